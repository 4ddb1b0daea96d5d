package jsonpath

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// SyntaxError is a path that cannot be compiled; Offset is the byte where
// the problem was found.
type SyntaxError struct {
	Path   string
	Offset int
	Msg    string
}

// Error leaves the path itself out: callers name it along with where it
// was written.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%s (at offset %d)", e.Msg, e.Offset)
}

type parser struct {
	src       string
	pos       int
	reference bool
}

func (ps *parser) fail(format string, args ...any) error {
	return &SyntaxError{Path: ps.src, Offset: ps.pos, Msg: fmt.Sprintf(format, args...)}
}

func parse(expr string, reference bool) (*Path, error) {
	ps := &parser{src: expr, reference: reference}
	if !strings.HasPrefix(expr, "$") {
		return nil, ps.fail("a path starts with '$' (or '$$' for the context object)")
	}
	p := &Path{src: expr}
	ps.pos = 1
	if strings.HasPrefix(expr, "$$") {
		p.context = true
		ps.pos = 2
	} else if n := variableNameLen(expr[1:]); n > 0 {
		// $name reads the workflow variable name (Step Functions'
		// variables, usable in JSONPath states as in JSONata ones).
		p.variable = expr[1 : 1+n]
		ps.pos = 1 + n
	}
	for ps.pos < len(ps.src) {
		seg, fn, err := ps.segment()
		if err != nil {
			return nil, err
		}
		if fn {
			if ps.pos != len(ps.src) {
				return nil, ps.fail("length() must end the path")
			}
			p.length = true
			break
		}
		p.segs = append(p.segs, seg)
	}
	p.definite = true
	for i := range p.segs {
		s := &p.segs[i]
		s.upstreamDefinite = p.definite
		// Jayway reads a union of names at the end as one merged object.
		mergedNames := s.kind == segNames && !s.scan && i == len(p.segs)-1
		if !s.definite() && !mergedNames {
			p.definite = false
		}
	}
	if reference {
		if p.length {
			return nil, &SyntaxError{Path: expr, Offset: len(expr), Msg: "a reference path cannot call functions"}
		}
		for _, s := range p.segs {
			if !s.definite() || (s.kind == segIndex && s.index < 0) {
				return nil, &SyntaxError{Path: expr, Offset: 0,
					Msg: "a reference path names a single node: only names and non-negative indexes, no '..', '*', '?', ':', ',' or '@'"}
			}
		}
	}
	return p, nil
}

// segment reads one step; fn reports a trailing length().
func (ps *parser) segment() (seg segment, fn bool, err error) {
	c := ps.src[ps.pos]
	switch c {
	case '.':
		ps.pos++
		if ps.pos < len(ps.src) && ps.src[ps.pos] == '.' {
			ps.pos++
			seg.scan = true
		}
		if ps.pos >= len(ps.src) {
			return seg, false, ps.fail("a name, '*' or '[' must follow '.'")
		}
		switch ps.src[ps.pos] {
		case '[':
			return ps.bracket(seg)
		case '*':
			ps.pos++
			seg.kind = segWildcard
			return seg, false, nil
		}
		start := ps.pos
		for ps.pos < len(ps.src) && !strings.ContainsRune(".[( ", rune(ps.src[ps.pos])) {
			ps.pos++
		}
		name := ps.src[start:ps.pos]
		if name == "" {
			return seg, false, ps.fail("empty name after '.'")
		}
		if strings.HasPrefix(ps.src[ps.pos:], "()") && !seg.scan {
			if name != "length" {
				return seg, false, ps.fail("unknown function %s()", name)
			}
			ps.pos += 2
			return seg, true, nil
		}
		if ps.pos < len(ps.src) && ps.src[ps.pos] == ' ' {
			return seg, false, ps.fail("a name in dot notation cannot hold a space; use ['%s ...']", name)
		}
		if ps.pos < len(ps.src) && ps.src[ps.pos] == '(' {
			return seg, false, ps.fail("unexpected '(' after %q", name)
		}
		seg.kind = segName
		seg.name = name
		return seg, false, nil
	case '[':
		return ps.bracket(seg)
	}
	return seg, false, ps.fail("unexpected %q; expected '.' or '['", c)
}

func (ps *parser) bracket(seg segment) (segment, bool, error) {
	ps.pos++ // '['
	ps.skipSpace()
	if ps.pos >= len(ps.src) {
		return seg, false, ps.fail("unclosed '['")
	}
	switch c := ps.src[ps.pos]; {
	case c == '\'' || c == '"':
		var names []string
		for {
			ps.skipSpace()
			name, err := ps.quoted()
			if err != nil {
				return seg, false, err
			}
			names = append(names, name)
			ps.skipSpace()
			if ps.pos < len(ps.src) && ps.src[ps.pos] == ',' {
				ps.pos++
				continue
			}
			break
		}
		if err := ps.closeBracket(); err != nil {
			return seg, false, err
		}
		if len(names) == 1 {
			seg.kind, seg.name = segName, names[0]
		} else {
			seg.kind, seg.names = segNames, names
		}
		return seg, false, nil
	case c == '*':
		ps.pos++
		if err := ps.closeBracket(); err != nil {
			return seg, false, err
		}
		seg.kind = segWildcard
		return seg, false, nil
	case c == '?':
		ps.pos++
		ps.skipSpace()
		if ps.pos >= len(ps.src) || ps.src[ps.pos] != '(' {
			return seg, false, ps.fail("a filter is written [?(...)]")
		}
		end := matchingParen(ps.src, ps.pos)
		if end < 0 {
			return seg, false, ps.fail("unclosed '(' in filter")
		}
		body := ps.src[ps.pos+1 : end]
		e, err := parseFilter(body)
		if err != nil {
			return seg, false, &SyntaxError{Path: ps.src, Offset: ps.pos + 1, Msg: err.Error()}
		}
		ps.pos = end + 1
		if err := ps.closeBracket(); err != nil {
			return seg, false, err
		}
		seg.kind, seg.filter = segFilter, e
		return seg, false, nil
	case c == '-' || c == ':' || (c >= '0' && c <= '9'):
		return ps.indexes(seg)
	}
	return seg, false, ps.fail("unexpected %q after '['", ps.src[ps.pos])
}

func (ps *parser) indexes(seg segment) (segment, bool, error) {
	end := strings.IndexByte(ps.src[ps.pos:], ']')
	if end < 0 {
		return seg, false, ps.fail("unclosed '['")
	}
	body := strings.TrimSpace(ps.src[ps.pos : ps.pos+end])
	at := ps.pos
	ps.pos += end + 1
	bad := func(msg string) error { return &SyntaxError{Path: ps.src, Offset: at, Msg: msg} }
	if strings.Contains(body, ":") {
		parts := strings.Split(body, ":")
		if len(parts) != 2 {
			return seg, false, bad("a slice is written [start:end]")
		}
		seg.kind = segSlice
		if s := strings.TrimSpace(parts[0]); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil {
				return seg, false, bad("slice start " + strconv.Quote(s) + " is not an integer")
			}
			seg.start, seg.hasStart = n, true
		}
		if s := strings.TrimSpace(parts[1]); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil {
				return seg, false, bad("slice end " + strconv.Quote(s) + " is not an integer")
			}
			seg.end, seg.hasEnd = n, true
		}
		return seg, false, nil
	}
	var idxs []int
	for _, s := range strings.Split(body, ",") {
		s = strings.TrimSpace(s)
		n, err := strconv.Atoi(s)
		if err != nil {
			return seg, false, bad("index " + strconv.Quote(s) + " is not an integer")
		}
		idxs = append(idxs, n)
	}
	if len(idxs) == 1 {
		seg.kind, seg.index = segIndex, idxs[0]
	} else {
		seg.kind, seg.indexes = segIndexes, idxs
	}
	return seg, false, nil
}

// quoted reads a '...' or "..." name; a backslash escapes the next character.
func (ps *parser) quoted() (string, error) {
	if ps.pos >= len(ps.src) || (ps.src[ps.pos] != '\'' && ps.src[ps.pos] != '"') {
		return "", ps.fail("expected a quoted name")
	}
	q := ps.src[ps.pos]
	ps.pos++
	var b strings.Builder
	for ps.pos < len(ps.src) {
		c := ps.src[ps.pos]
		switch {
		case c == '\\' && ps.pos+1 < len(ps.src):
			b.WriteByte(ps.src[ps.pos+1])
			ps.pos += 2
		case c == q:
			ps.pos++
			return b.String(), nil
		default:
			b.WriteByte(c)
			ps.pos++
		}
	}
	return "", ps.fail("unclosed quote")
}

func (ps *parser) closeBracket() error {
	ps.skipSpace()
	if ps.pos >= len(ps.src) || ps.src[ps.pos] != ']' {
		return ps.fail("expected ']'")
	}
	ps.pos++
	return nil
}

func (ps *parser) skipSpace() {
	for ps.pos < len(ps.src) && ps.src[ps.pos] == ' ' {
		ps.pos++
	}
}

// matchingParen returns the index of the ')' closing the '(' at open,
// skipping quoted strings and regex literals, or -1.
func matchingParen(s string, open int) int {
	depth := 0
	for i := open; i < len(s); i++ {
		switch s[i] {
		case '\'', '"':
			q := s[i]
			for i++; i < len(s) && s[i] != q; i++ {
				if s[i] == '\\' {
					i++
				}
			}
		case '/':
			// A regex literal after =~ may hold parentheses.
			if strings.HasSuffix(strings.TrimRight(s[:i], " "), "=~") {
				for i++; i < len(s) && s[i] != '/'; i++ {
					if s[i] == '\\' {
						i++
					}
				}
			}
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// variableNameLen is the length of the variable name at the start of s:
// a letter or '_', then letters, digits and '_' (AWS's rule for names in
// Assign), or 0 when s does not start with one.
func variableNameLen(s string) int {
	for i, r := range s {
		switch {
		case r == '_' || unicode.IsLetter(r):
		case i > 0 && unicode.IsDigit(r):
		default:
			return i
		}
	}
	return len(s)
}

// ValidVariableName reports whether name can be assigned with Assign and
// read as $name.
func ValidVariableName(name string) bool {
	return name != "" && variableNameLen(name) == len(name)
}
