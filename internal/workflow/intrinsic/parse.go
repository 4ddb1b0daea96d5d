package intrinsic

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/velocity-ci/velocity/internal/workflow/jsonpath"
)

// SyntaxError is a call that cannot be compiled; Offset is the byte where
// the problem was found.
type SyntaxError struct {
	Expr   string
	Offset int
	Msg    string
}

// Error leaves the expression itself out: callers name it along with
// where it was written.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%s (at offset %d)", e.Msg, e.Offset)
}

type parser struct {
	src string
	pos int
}

func (ps *parser) fail(format string, args ...any) error {
	return &SyntaxError{Expr: ps.src, Offset: ps.pos, Msg: fmt.Sprintf(format, args...)}
}

func (ps *parser) space() {
	for ps.pos < len(ps.src) && (ps.src[ps.pos] == ' ' || ps.src[ps.pos] == '\t' || ps.src[ps.pos] == '\n') {
		ps.pos++
	}
}

func (ps *parser) call(depth int) (*Call, error) {
	start := ps.pos
	if depth > maxDepth {
		return nil, ps.fail("intrinsic functions nest at most %d deep", maxDepth)
	}
	if !strings.HasPrefix(ps.src[ps.pos:], "States.") {
		return nil, ps.fail("an intrinsic function call starts with 'States.'")
	}
	open := strings.IndexByte(ps.src[ps.pos:], '(')
	if open < 0 {
		return nil, ps.fail("missing '(' after the function name")
	}
	name := strings.TrimSpace(ps.src[ps.pos : ps.pos+open])
	fn, ok := functions[name]
	if !ok {
		return nil, ps.fail("unknown intrinsic function %q; the functions are %s", name, functionNames())
	}
	ps.pos += open + 1
	c := &Call{fn: fn}
	ps.space()
	if ps.pos < len(ps.src) && ps.src[ps.pos] == ')' {
		ps.pos++
	} else {
		for {
			a, err := ps.arg(depth)
			if err != nil {
				return nil, err
			}
			c.args = append(c.args, a)
			ps.space()
			if ps.pos >= len(ps.src) {
				return nil, ps.fail("missing ')' to close %s(", name)
			}
			if ps.src[ps.pos] == ',' {
				ps.pos++
				continue
			}
			if ps.src[ps.pos] == ')' {
				ps.pos++
				break
			}
			return nil, ps.fail("expected ',' or ')' in the arguments of %s, found %q", name, ps.src[ps.pos])
		}
	}
	c.src = ps.src[start:ps.pos]
	if fn.check != nil {
		if err := fn.check(c); err != nil {
			return nil, &SyntaxError{Expr: ps.src, Offset: start, Msg: err.Error()}
		}
	}
	return c, nil
}

func (ps *parser) arg(depth int) (arg, error) {
	ps.space()
	if ps.pos >= len(ps.src) {
		return arg{}, ps.fail("missing argument")
	}
	rest := ps.src[ps.pos:]
	switch c := rest[0]; {
	case c == ',' || c == ')':
		return arg{}, ps.fail("missing argument before %q", c)
	case c == '\'':
		start := ps.pos
		s, err := ps.stringLiteral()
		if err != nil {
			return arg{}, err
		}
		return arg{kind: argLiteral, value: s, raw: ps.src[start+1 : ps.pos-1]}, nil
	case c == '$':
		end := pathEnd(rest)
		text := strings.TrimRight(rest[:end], " \t\n")
		p, err := jsonpath.Parse(text)
		if err != nil {
			return arg{}, ps.fail("invalid path argument %q: %v", text, err)
		}
		ps.pos += end
		return arg{kind: argPath, path: p}, nil
	case strings.HasPrefix(rest, "States."):
		sub, err := ps.call(depth + 1)
		if err != nil {
			return arg{}, err
		}
		return arg{kind: argCall, call: sub}, nil
	case c == '-' || (c >= '0' && c <= '9'):
		j := 1
		for j < len(rest) && strings.IndexByte("0123456789.eE+-", rest[j]) >= 0 {
			j++
		}
		n := json.Number(rest[:j])
		var probe any
		if err := json.Unmarshal([]byte(rest[:j]), &probe); err != nil {
			return arg{}, ps.fail("invalid number %q", rest[:j])
		}
		ps.pos += j
		return arg{kind: argLiteral, value: jsonpath.CanonicalNumber(n)}, nil
	}
	for word, v := range map[string]any{"true": true, "false": false, "null": nil} {
		if strings.HasPrefix(rest, word) {
			after := ps.pos + len(word)
			if after == len(ps.src) || strings.IndexByte(" \t\n,)", ps.src[after]) >= 0 {
				ps.pos = after
				return arg{kind: argLiteral, value: v}, nil
			}
		}
	}
	return arg{}, ps.fail("unexpected %q: an argument is a 'string', a number, true, false, null, a path or an intrinsic call", firstToken(rest))
}

func firstToken(s string) string {
	if i := strings.IndexAny(s, " ,)"); i > 0 {
		return s[:i]
	}
	return s
}

// stringLiteral reads '...'. The escapes are \' \{ \} and \\; any other
// backslash is an error, as on AWS. The value keeps escaped braces as plain
// braces; placeholders are found separately by formatPieces.
func (ps *parser) stringLiteral() (string, error) {
	var b strings.Builder
	ps.pos++ // opening quote
	for ps.pos < len(ps.src) {
		c := ps.src[ps.pos]
		switch c {
		case '\\':
			if ps.pos+1 >= len(ps.src) || strings.IndexByte(`'{}\`, ps.src[ps.pos+1]) < 0 {
				return "", ps.fail(`open escape: a backslash in a string literal must be followed by ', {, } or \`)
			}
			b.WriteByte(ps.src[ps.pos+1])
			ps.pos += 2
		case '\'':
			ps.pos++
			return b.String(), nil
		default:
			b.WriteByte(c)
			ps.pos++
		}
	}
	return "", ps.fail("unclosed string literal")
}

// formatPieces splits a States.Format template at its {} placeholders. In
// a string literal (escaped true) a backslash escapes the next character;
// ok is false when a brace is neither part of {} nor escaped, which Step
// Functions rejects when the call runs.
func formatPieces(tpl string, escaped bool) (pieces []string, ok bool) {
	var b strings.Builder
	for i := 0; i < len(tpl); i++ {
		switch c := tpl[i]; {
		case escaped && c == '\\' && i+1 < len(tpl):
			b.WriteByte(tpl[i+1])
			i++
		case c == '{' && i+1 < len(tpl) && tpl[i+1] == '}':
			pieces = append(pieces, b.String())
			b.Reset()
			i++
		case c == '{' || c == '}':
			return nil, false
		default:
			b.WriteByte(c)
		}
	}
	return append(pieces, b.String()), true
}

// pathEnd is the length of the path at the start of s: up to a ',' or ')'
// outside brackets, parentheses and quotes.
func pathEnd(s string) int {
	depth := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'' || c == '"':
			for i++; i < len(s) && s[i] != c; i++ {
				if s[i] == '\\' {
					i++
				}
			}
		case c == '[' || c == '(':
			depth++
		case c == ']' || (c == ')' && depth > 0):
			depth--
		case depth == 0 && (c == ',' || c == ')'):
			return i
		}
	}
	return len(s)
}
