package asl

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// The YAML parser's messages name the grammar rule that failed ("value is
// not allowed in this context"); these helpers turn the common ones into
// what the user has to change, and find the mapping the line sits in from
// the indentation of the lines above it, since there is no tree to ask.

// yamlKeyLine matches a line that opens a mapping entry, optionally as a
// list item: its indentation, the "- " and the key, quoted or plain.
var yamlKeyLine = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^( *)(- +)?("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s#'"{\[\-][^#]*?)\s*:(?:\s|$)`)
})

// yamlItemLine matches a list item that is not a mapping entry.
var yamlItemLine = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^( *)- `) })

// explainYAMLError rewrites the parser's message for the error at p.
func explainYAMLError(lines []string, p pos, msg string) string {
	line := ""
	if p.line <= len(lines) {
		line = strings.TrimRight(lines[p.line-1], "\r")
	}
	switch {
	case strings.Contains(msg, "'\t'"):
		return msg + " (indent YAML with spaces, not tabs)"
	case strings.Contains(msg, "could not find end character of double-quoted text"):
		return `a double-quoted string is not closed with "`
	case strings.Contains(msg, "could not find end character of single-quoted text"):
		return "a single-quoted string is not closed with '"
	case strings.Contains(msg, "',' or '}' must be specified"):
		return "a flow mapping { ... } above is not closed, or two of its members lack a ',' between them: expected ',' or '}'"
	case strings.Contains(msg, "',' or ']' must be specified"):
		return "a flow sequence [ ... ] above is not closed, or two of its items lack a ',' between them: expected ',' or ']'"
	case strings.Contains(msg, "is not allowed in this context"):
		if prev, ok := previousLine(lines, p.line); ok {
			in, prevIn := indentOf(line), indentOf(prev)
			opens := strings.HasSuffix(strings.TrimSpace(stripComment(prev)), ":")
			if in != prevIn && !opens {
				return fmt.Sprintf("bad indentation: line %d is indented %d spaces but line %d above it %d; "+
					"the keys of one mapping and the items of one list must line up, and a nested mapping goes under a key that ends with ':'",
					p.line, in, p.line-countBack(lines, p.line), prevIn)
			}
		}
		if strings.Count(line, ": ") > 1 {
			return "a plain value cannot hold \": \"; put the value in quotes"
		}
		return "a key: value is not allowed here; check this line's indentation against the lines above, and quote values that hold ': '"
	}
	return msg
}

// previousLine returns the nearest line above lineNo that holds more than
// blanks and comments.
func previousLine(lines []string, lineNo int) (string, bool) {
	if n := countBack(lines, lineNo); n > 0 {
		return lines[lineNo-1-n], true
	}
	return "", false
}

// countBack returns how many lines up the previous meaningful line is, or 0.
func countBack(lines []string, lineNo int) int {
	for i := lineNo - 2; i >= 0 && i < len(lines); i-- {
		if t := strings.TrimSpace(stripComment(lines[i])); t != "" {
			return lineNo - 1 - i
		}
	}
	return 0
}

func indentOf(line string) int { return len(line) - len(strings.TrimLeft(line, " ")) }

// stripComment drops a comment that starts the line; comments after values
// are rare in definitions and harmless to the checks here.
func stripComment(line string) string {
	if strings.HasPrefix(strings.TrimSpace(line), "#") {
		return ""
	}
	return strings.TrimRight(line, "\r")
}

// yamlPointerAt returns the JSON pointer of the mapping or list that line
// lineNo belongs in, read from the block-style lines above it with less
// indentation, or "" when it is the top level or cannot be told.
func yamlPointerAt(lines []string, lineNo int) string {
	if lineNo < 1 || lineNo > len(lines) {
		return ""
	}
	limit := indentOf(lines[lineNo-1])
	var tokens []string
	for i := lineNo - 2; i >= 0 && limit > 0; i-- {
		l := stripComment(lines[i])
		if strings.TrimSpace(l) == "" || strings.HasPrefix(strings.TrimSpace(l), "{") {
			continue
		}
		in := indentOf(l)
		if in >= limit {
			continue
		}
		if m := yamlKeyLine().FindStringSubmatch(l); m != nil && m[2] == "" {
			tokens = append(tokens, unquoteYAMLKey(m[3]))
		} else if yamlItemLine().MatchString(l) {
			tokens = append(tokens, fmt.Sprint(itemIndex(lines, i, in)))
		} else {
			// A line the simple reading does not understand (a block
			// scalar, a flow collection): no pointer rather than a wrong one.
			return ""
		}
		limit = in
	}
	if limit > 0 {
		return ""
	}
	ptr := ""
	for i := len(tokens) - 1; i >= 0; i-- {
		ptr = pointerJoin(ptr, tokens[i])
	}
	return ptr
}

// itemIndex counts the list items at indentation in before line i, up to
// the line that holds the list.
func itemIndex(lines []string, i, in int) int {
	n := 0
	for j := i - 1; j >= 0; j-- {
		l := stripComment(lines[j])
		if strings.TrimSpace(l) == "" {
			continue
		}
		lin := indentOf(l)
		if lin < in {
			break
		}
		if lin == in && strings.HasPrefix(strings.TrimSpace(l), "- ") {
			n++
		}
	}
	return n
}

func unquoteYAMLKey(k string) string {
	if len(k) >= 2 && k[0] == '"' && k[len(k)-1] == '"' {
		return strings.ReplaceAll(k[1:len(k)-1], `\"`, `"`)
	}
	if len(k) >= 2 && k[0] == '\'' && k[len(k)-1] == '\'' {
		return strings.ReplaceAll(k[1:len(k)-1], "''", "'")
	}
	return k
}
