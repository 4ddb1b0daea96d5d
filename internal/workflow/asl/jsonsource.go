package asl

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/velocity-ci/velocity/internal/yamllimit"
)

// This file reads a JSON definition strictly, as AWS does: no trailing
// commas, comments, single quotes or unquoted keys. The YAML parser would
// accept all of those, so JSON sources get their own small parser that
// builds the same positioned tree.

// isJSONSource tells whether a definition is read as JSON: a .json file,
// or any source that opens with an object.
func isJSONSource(file string, src []byte) bool {
	if strings.HasSuffix(strings.ToLower(file), ".json") {
		return true
	}
	return strings.HasPrefix(strings.TrimLeft(string(src), " \t\r\n"), "{")
}

// jsonSyntaxError is the first problem found; JSON has no way to resume
// after one, so parsing stops there.
type jsonSyntaxError struct {
	at  pos
	msg string
}

// jsonParser walks the source by byte offset, keeping the line and column
// (in characters) of the offset for positions.
type jsonParser struct {
	src  []byte
	off  int
	line int
	col  int
	r    *report
}

// parseJSONSource reads src as one JSON value. It reports the first syntax
// error and returns nil, or returns the tree after reporting duplicate keys.
func parseJSONSource(r *report, src []byte) *node {
	p := &jsonParser{src: src, line: 1, col: 1, r: r}
	n, err := p.document()
	if err != nil {
		r.add(err.at, "", "invalid JSON: %s", err.msg)
		return nil
	}
	return n
}

func (p *jsonParser) document() (*node, *jsonSyntaxError) {
	if err := p.space(); err != nil {
		return nil, err
	}
	if p.off == len(p.src) {
		p.r.add(pos{1, 1}, "", `the definition is empty; it needs "StartAt" and "States"`)
		return nil, nil
	}
	n, err := p.value("", 0)
	if err != nil {
		return nil, err
	}
	if err := p.space(); err != nil {
		return nil, err
	}
	if p.off < len(p.src) {
		return nil, p.fail("%s after the end of the top-level value; a definition is one JSON object", p.describeNext())
	}
	return n, nil
}

func (p *jsonParser) here() pos { return pos{p.line, p.col} }

func (p *jsonParser) fail(format string, args ...any) *jsonSyntaxError {
	return &jsonSyntaxError{at: p.here(), msg: fmt.Sprintf(format, args...)}
}

// advance moves past n bytes, which must not hold a newline unless it is
// the last one.
func (p *jsonParser) advance(n int) {
	for i := 0; i < n && p.off < len(p.src); {
		c := p.src[p.off]
		if c == '\n' {
			p.line++
			p.col = 1
			p.off++
			i++
			continue
		}
		_, size := utf8.DecodeRune(p.src[p.off:])
		p.off += size
		i += size
		p.col++
	}
}

// space skips JSON whitespace and reports a comment, the one non-JSON
// thing people most often put between values.
func (p *jsonParser) space() *jsonSyntaxError {
	for p.off < len(p.src) {
		switch p.src[p.off] {
		case ' ', '\t', '\r', '\n':
			p.advance(1)
		case '/':
			if p.off+1 < len(p.src) && (p.src[p.off+1] == '/' || p.src[p.off+1] == '*') {
				return p.fail("comments are not allowed in JSON; remove it, or write the definition in YAML (.yaml) to keep comments")
			}
			return nil
		case '#':
			return p.fail("comments are not allowed in JSON; remove it, or write the definition in YAML (.yaml) to keep comments")
		default:
			return nil
		}
	}
	return nil
}

// describeNext names what stands at the current offset for a message.
func (p *jsonParser) describeNext() string {
	if p.off >= len(p.src) {
		return "end of input"
	}
	r, _ := utf8.DecodeRune(p.src[p.off:])
	if w := p.word(); w != "" && len(w) > 1 {
		return fmt.Sprintf("unexpected %q", w)
	}
	return fmt.Sprintf("unexpected character %q", r)
}

// word returns the run of letters, digits and the like at the offset.
func (p *jsonParser) word() string {
	end := p.off
	for end < len(p.src) {
		c := p.src[end]
		if c == '_' || c == '$' || c == '-' || c == '+' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
			end++
			continue
		}
		break
	}
	return string(p.src[p.off:end])
}

func (p *jsonParser) value(ptr string, depth int) (*node, *jsonSyntaxError) {
	if depth > maxDepth {
		return nil, p.fail("values nest more than %d deep (limit %q is %d)", maxDepth, yamllimit.NameMaxDepth, maxDepth)
	}
	if err := p.space(); err != nil {
		return nil, err
	}
	at := p.here()
	if p.off >= len(p.src) {
		return nil, p.fail("unexpected end of input; a value is missing")
	}
	switch c := p.src[p.off]; {
	case c == '{':
		return p.object(ptr, depth)
	case c == '[':
		return p.array(ptr, depth)
	case c == '"':
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		return &node{kind: kindString, pos: at, text: s}, nil
	case c == '\'':
		return nil, p.fail("strings must be in double quotes (\"), not single quotes (')")
	case c == '-' || c >= '0' && c <= '9':
		w := p.word()
		if !jsonNumber().MatchString(w) {
			return nil, p.fail("invalid number %q", w)
		}
		p.advance(len(w))
		return &node{kind: kindNumber, pos: at, text: w}, nil
	}
	switch w := p.word(); w {
	case "true", "false":
		p.advance(len(w))
		return &node{kind: kindBool, pos: at, boolean: w == "true"}, nil
	case "null":
		p.advance(len(w))
		return &node{kind: kindNull, pos: at}, nil
	case "":
		return nil, p.fail("%s; a value is expected here", p.describeNext())
	default:
		return nil, p.fail("unknown value %q; JSON values are strings in double quotes, numbers, objects, arrays, true, false and null", w)
	}
}

func (p *jsonParser) object(ptr string, depth int) (*node, *jsonSyntaxError) {
	out := &node{kind: kindObject, pos: p.here()}
	open := p.here()
	p.advance(1) // {
	first := map[string]pos{}
	members := 0
	for {
		if err := p.space(); err != nil {
			return nil, err
		}
		if p.off >= len(p.src) {
			return nil, p.fail("unexpected end of input; the object opened at line %d column %d is not closed with }", open.line, open.col)
		}
		if p.src[p.off] == '}' {
			if members > 0 {
				return nil, p.fail("trailing comma before }; remove the comma after the last member")
			}
			p.advance(1)
			return out, nil
		}
		kp := p.here()
		switch c := p.src[p.off]; {
		case c == '"':
		case c == '\'':
			return nil, p.fail("object keys must be in double quotes (\"), not single quotes (')")
		default:
			if w := p.word(); w != "" {
				return nil, p.fail("object key %s must be a string in double quotes", w)
			}
			return nil, p.fail("%s where an object key (a string in double quotes) is expected", p.describeNext())
		}
		key, err := p.str()
		if err != nil {
			return nil, err
		}
		if err := p.space(); err != nil {
			return nil, err
		}
		if p.off >= len(p.src) || p.src[p.off] != ':' {
			return nil, p.fail("%s after object key %q; a ':' is expected", p.describeNext(), key)
		}
		p.advance(1)
		member := pointerJoin(ptr, key)
		v, err := p.value(member, depth+1)
		if err != nil {
			return nil, err
		}
		members++
		if at, dup := first[key]; dup {
			// Step Functions accepts a repeated key and keeps the value
			// written last (as JSON parsers commonly do), so the
			// definition runs; the repeat is most likely an edit
			// mistake, hence the warning.
			p.r.warn(kp, member, "duplicate field %q (first defined at line %d); the value written last is used, as Step Functions does", key, at.line)
			for _, f := range out.fields {
				if f.key == key {
					f.keyPos, f.value = kp, v
				}
			}
		} else {
			first[key] = kp
			out.fields = append(out.fields, &field{key: key, keyPos: kp, value: v})
		}
		if err := p.space(); err != nil {
			return nil, err
		}
		if p.off >= len(p.src) {
			return nil, p.fail("unexpected end of input; the object opened at line %d column %d is not closed with }", open.line, open.col)
		}
		switch p.src[p.off] {
		case ',':
			p.advance(1)
		case '}':
			p.advance(1)
			return out, nil
		default:
			return nil, p.fail("%s after object key:value pair; a ',' or '}' is expected", p.describeNext())
		}
	}
}

func (p *jsonParser) array(ptr string, depth int) (*node, *jsonSyntaxError) {
	out := &node{kind: kindArray, pos: p.here()}
	open := p.here()
	p.advance(1) // [
	for {
		if err := p.space(); err != nil {
			return nil, err
		}
		if p.off >= len(p.src) {
			return nil, p.fail("unexpected end of input; the array opened at line %d column %d is not closed with ]", open.line, open.col)
		}
		if p.src[p.off] == ']' {
			if len(out.items) > 0 {
				return nil, p.fail("trailing comma before ]; remove the comma after the last element")
			}
			p.advance(1)
			return out, nil
		}
		v, err := p.value(pointerIndex(ptr, len(out.items)), depth+1)
		if err != nil {
			return nil, err
		}
		out.items = append(out.items, v)
		if err := p.space(); err != nil {
			return nil, err
		}
		if p.off >= len(p.src) {
			return nil, p.fail("unexpected end of input; the array opened at line %d column %d is not closed with ]", open.line, open.col)
		}
		switch p.src[p.off] {
		case ',':
			p.advance(1)
		case ']':
			p.advance(1)
			return out, nil
		default:
			return nil, p.fail("%s after array element; a ',' or ']' is expected", p.describeNext())
		}
	}
}

// str reads a double-quoted string at the offset, checking it as JSON does
// and unescaping it with encoding/json.
func (p *jsonParser) str() (string, *jsonSyntaxError) {
	start := p.off
	open := p.here()
	p.advance(1) // "
	for {
		if p.off >= len(p.src) {
			return "", &jsonSyntaxError{at: open, msg: "string is not closed with \""}
		}
		c := p.src[p.off]
		switch {
		case c == '"':
			p.advance(1)
			var s string
			if err := json.Unmarshal(p.src[start:p.off], &s); err != nil {
				return "", &jsonSyntaxError{at: open, msg: fmt.Sprintf("string: %v", err)}
			}
			return s, nil
		case c == '\\':
			if p.off+1 >= len(p.src) {
				return "", &jsonSyntaxError{at: open, msg: "string is not closed with \""}
			}
			switch e := p.src[p.off+1]; e {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				p.advance(2)
			case 'u':
				hex := p.src[p.off+2 : min(p.off+6, len(p.src))]
				if len(hex) < 4 || !isHex(hex) {
					return "", p.fail(`invalid escape \u%s in string; \u takes four hex digits`, hex)
				}
				p.advance(6)
			default:
				r, _ := utf8.DecodeRune(p.src[p.off+1:])
				return "", p.fail(`invalid escape \%c in string; JSON escapes are \" \\ \/ \b \f \n \r \t and \uXXXX`, r)
			}
		case c < 0x20:
			if c == '\n' {
				return "", &jsonSyntaxError{at: open, msg: "string is not closed with \" before the end of the line; write a line break inside a string as \\n"}
			}
			return "", p.fail("control character U+%04X in string; escape it", c)
		default:
			p.advance(1)
		}
	}
}

func isHex(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}
