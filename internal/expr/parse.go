package expr

import (
	"fmt"
	"slices"
	"strings"

	"github.com/velocity-ci/velocity/internal/typo"
)

// MaxLength is the longest condition parsed, in bytes (limit "max
// condition length"). Real conditions are one line; the bound keeps a
// hostile definition from making validation slow.
const MaxLength = 2048

// MaxDepth is how deeply parentheses, "!" and calls may nest (limit "max
// condition nesting"). The parser recurses once per level, so the bound
// keeps its stack small whatever the input.
const MaxDepth = 32

// Events lists the values `event` can take. "local" is a run started on
// a developer's machine by velocity run or velocity rerun; the others are
// reserved for triggers and never equal event today.
func Events() []string { return []string{"local", "manual", "push", "schedule", "webhook"} }

// Options says what a condition may refer to, which depends on where it
// is written.
type Options struct {
	// Matrix lists the matrix variables (matrix.NAME) in scope; nil when
	// the action has no matrix.
	Matrix []string
	// NoStatus refuses the status functions (success(), failure(),
	// always(), cancelled()), for conditions evaluated before anything ran.
	NoStatus bool
}

// Error is a problem in a condition's text. Offset is the byte of the
// text it points at, for the caller to turn into a file position.
type Error struct {
	Offset int
	Msg    string
}

func (e *Error) Error() string { return fmt.Sprintf("column %d: %s", e.Offset+1, e.Msg) }

// Expr is a parsed, type-checked condition.
type Expr struct {
	text   string
	root   node
	status bool
	globs  []Glob
}

// Glob is a pattern passed to changed(), with the offset of its string.
type Glob struct {
	Offset int
	Text   string
}

// String returns the condition as written.
func (e *Expr) String() string { return e.text }

// UsesStatus reports whether the condition calls a status function. One
// that does not is evaluated as success() && (condition), as in GitHub
// Actions: an action runs after a failure only when its condition says so.
func (e *Expr) UsesStatus() bool { return e.status }

// Patterns returns the globs passed to changed(), for the caller to check
// as paths.
func (e *Expr) Patterns() []Glob { return slices.Clone(e.globs) }

// Parse parses and type-checks a condition.
func Parse(text string, opts Options) (*Expr, error) {
	if len(text) > MaxLength {
		return nil, &Error{Offset: MaxLength, Msg: fmt.Sprintf("the condition is longer than %d bytes (limit %q is %d)", MaxLength, "max condition length", MaxLength)}
	}
	toks, err := lex(text)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks, opts: opts, e: &Expr{text: text}}
	if toks[0].kind == tEOF {
		return nil, &Error{Offset: 0, Msg: "the condition is empty"}
	}
	root, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, &Error{Offset: t.at, Msg: fmt.Sprintf("unexpected %s after a complete condition", t)}
	}
	if root.typ() != boolean {
		return nil, &Error{Offset: root.pos(), Msg: "a condition must be true or false, not a string; compare it, e.g. " + example(root)}
	}
	p.e.root = root
	return p.e, nil
}

func example(n node) string {
	if r, ok := n.(*ref); ok {
		return r.name + " == '...'"
	}
	return "branch == 'main'"
}

type tokKind int

const (
	tEOF tokKind = iota
	tName
	tString
	tDot
	tComma
	tLParen
	tRParen
	tNot
	tAnd
	tOr
	tEq
	tNe
)

type token struct {
	kind tokKind
	at   int
	text string // a name, or a string's value
}

func (t token) String() string {
	switch t.kind {
	case tEOF:
		return "end of condition"
	case tName:
		return fmt.Sprintf("%q", t.text)
	case tString:
		return "string '" + strings.ReplaceAll(t.text, "'", "''") + "'"
	}
	return fmt.Sprintf("%q", [...]string{tDot: ".", tComma: ",", tLParen: "(", tRParen: ")", tNot: "!", tAnd: "&&", tOr: "||", tEq: "==", tNe: "!="}[t.kind])
}

func lex(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case isNameStart(c):
			j := i + 1
			for j < len(s) && (isNameStart(s[j]) || s[j] >= '0' && s[j] <= '9' || s[j] == '-') {
				j++
			}
			toks = append(toks, token{kind: tName, at: i, text: s[i:j]})
			i = j
		case c == '\'':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(s) {
					return nil, &Error{Offset: i, Msg: "the string is not closed; end it with '"}
				}
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						b.WriteByte('\'')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(s[j])
				j++
			}
			toks = append(toks, token{kind: tString, at: i, text: b.String()})
			i = j + 1
		case c == '"':
			return nil, &Error{Offset: i, Msg: `strings are written in single quotes: 'main', not "main"`}
		default:
			two := ""
			if i+1 < len(s) {
				two = s[i : i+2]
			}
			kind := map[string]tokKind{"&&": tAnd, "||": tOr, "==": tEq, "!=": tNe}[two]
			if kind != tEOF {
				toks = append(toks, token{kind: kind, at: i})
				i += 2
				continue
			}
			kind = map[byte]tokKind{'.': tDot, ',': tComma, '(': tLParen, ')': tRParen, '!': tNot}[c]
			if kind != tEOF {
				toks = append(toks, token{kind: kind, at: i})
				i++
				continue
			}
			msg := fmt.Sprintf("unexpected character %q", rune(c))
			switch c {
			case '&', '|', '=':
				msg += fmt.Sprintf(" (write %c%c)", c, c)
			case '$', '{', '}':
				msg += "; conditions are not templates, write e.g. env.NAME == 'x'"
			}
			if c >= 0x80 {
				msg = "unexpected non-ASCII character"
			}
			return nil, &Error{Offset: i, Msg: msg}
		}
	}
	return append(toks, token{kind: tEOF, at: len(s)}), nil
}

func isNameStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

type parser struct {
	toks []token
	i    int
	opts Options
	e    *Expr
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) deeper(depth int, at int) error {
	if depth >= MaxDepth {
		return &Error{Offset: at, Msg: fmt.Sprintf("the condition nests more than %d levels deep (limit %q is %d)", MaxDepth, "max condition nesting", MaxDepth)}
	}
	return nil
}

func (p *parser) or(depth int) (node, error) {
	return p.binary(depth, tOr, p.and)
}

func (p *parser) and(depth int) (node, error) {
	return p.binary(depth, tAnd, p.unary)
}

// binary parses a left-associative chain of op over operands; both sides
// must be conditions.
func (p *parser) binary(depth int, op tokKind, operand func(int) (node, error)) (node, error) {
	left, err := operand(depth)
	if err != nil {
		return nil, err
	}
	for p.peek().kind == op {
		t := p.next()
		right, err := operand(depth)
		if err != nil {
			return nil, err
		}
		for _, side := range []node{left, right} {
			if side.typ() != boolean {
				return nil, &Error{Offset: side.pos(), Msg: fmt.Sprintf("%s joins conditions, and this is a string; compare it, e.g. %s", t, example(side))}
			}
		}
		left = &logic{at: t.at, and: op == tAnd, left: left, right: right}
	}
	return left, nil
}

func (p *parser) unary(depth int) (node, error) {
	if t := p.peek(); t.kind == tNot {
		if err := p.deeper(depth, t.at); err != nil {
			return nil, err
		}
		p.next()
		x, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		if x.typ() != boolean {
			return nil, &Error{Offset: x.pos(), Msg: "! negates a condition, and this is a string; compare it with != instead"}
		}
		return &not{at: t.at, x: x}, nil
	}
	return p.compare(depth)
}

func (p *parser) compare(depth int) (node, error) {
	left, err := p.operand(depth)
	if err != nil {
		return nil, err
	}
	t := p.peek()
	if t.kind != tEq && t.kind != tNe {
		return left, nil
	}
	p.next()
	right, err := p.operand(depth)
	if err != nil {
		return nil, err
	}
	if left.typ() != right.typ() {
		return nil, &Error{Offset: t.at, Msg: fmt.Sprintf("%s compares a %s with a %s, which are never equal", t, left.typ(), right.typ())}
	}
	if k := p.peek(); k.kind == tEq || k.kind == tNe {
		return nil, &Error{Offset: k.at, Msg: fmt.Sprintf("comparisons do not chain; join them with && or ||, or use parentheses")}
	}
	if err := checkEvent(left, right); err != nil {
		return nil, err
	}
	return &equal{at: t.at, negate: t.kind == tNe, left: left, right: right}, nil
}

// checkEvent catches a misspelt event name, which would silently make a
// condition always false.
func checkEvent(a, b node) error {
	for _, pair := range [][2]node{{a, b}, {b, a}} {
		r, isRef := pair[0].(*ref)
		s, isLit := pair[1].(*str)
		if events := Events(); isRef && isLit && r.name == "event" && !slices.Contains(events, s.value) {
			return &Error{Offset: s.at, Msg: fmt.Sprintf("%q is not an event; events are %s%s", s.value, strings.Join(events, ", "), typo.DidYouMean(s.value, events))}
		}
	}
	return nil
}

// names are the values a condition can read, besides env.NAME and
// matrix.NAME.
var names = []string{"branch", "event"}

// funcs maps each function to its number of string arguments; -1 is one
// or more.
var funcs = map[string]int{
	"success": 0, "failure": 0, "always": 0, "cancelled": 0,
	"changed": -1, "startsWith": 2, "endsWith": 2, "contains": 2,
}

func (p *parser) operand(depth int) (node, error) {
	t := p.next()
	switch t.kind {
	case tString:
		return &str{at: t.at, value: t.text}, nil
	case tLParen:
		if err := p.deeper(depth, t.at); err != nil {
			return nil, err
		}
		x, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tRParen {
			return nil, &Error{Offset: c.at, Msg: fmt.Sprintf("expected ) to close the ( at column %d, got %s", t.at+1, c)}
		}
		return x, nil
	case tName:
		switch {
		case t.text == "true" || t.text == "false":
			return &boolLit{at: t.at, value: t.text == "true"}, nil
		case p.peek().kind == tLParen:
			return p.call(depth, t)
		case p.peek().kind == tDot:
			return p.qualified(t)
		case slices.Contains(names, t.text):
			return &ref{at: t.at, name: t.text}, nil
		}
		known := append(slices.Clone(names), "env", "true", "false")
		if p.opts.Matrix != nil {
			known = append(known, "matrix")
		}
		for f := range funcs {
			known = append(known, f)
		}
		slices.Sort(known)
		msg := fmt.Sprintf("unknown name %q%s", t.text, typo.DidYouMean(t.text, known))
		if t.text == "env" || t.text == "matrix" {
			msg = fmt.Sprintf("%s needs a variable name, as in %s.NAME", t.text, t.text)
		}
		return nil, &Error{Offset: t.at, Msg: msg + "; strings are written in single quotes"}
	case tEOF:
		return nil, &Error{Offset: t.at, Msg: "the condition ends too early; a value is missing"}
	}
	return nil, &Error{Offset: t.at, Msg: fmt.Sprintf("expected a value, got %s", t)}
}

// qualified reads env.NAME or matrix.NAME.
func (p *parser) qualified(t token) (node, error) {
	p.next() // the dot
	v := p.next()
	if t.text != "env" && t.text != "matrix" {
		return nil, &Error{Offset: t.at, Msg: fmt.Sprintf("%q has no fields; only env.NAME and matrix.NAME do", t.text)}
	}
	if v.kind != tName || strings.Contains(v.text, "-") {
		return nil, &Error{Offset: v.at, Msg: fmt.Sprintf("expected a variable name after %s., got %s", t.text, v)}
	}
	if n := p.peek(); n.kind == tDot {
		return nil, &Error{Offset: n.at, Msg: fmt.Sprintf("%s.%s has no fields", t.text, v.text)}
	}
	if t.text == "matrix" {
		if p.opts.Matrix == nil {
			return nil, &Error{Offset: t.at, Msg: "matrix values exist only in an action with a matrix"}
		}
		if !slices.Contains(p.opts.Matrix, v.text) {
			return nil, &Error{Offset: v.at, Msg: fmt.Sprintf("the matrix has no variable %q%s", v.text, typo.DidYouMean(v.text, p.opts.Matrix))}
		}
	}
	return &ref{at: t.at, name: t.text + "." + v.text}, nil
}

func (p *parser) call(depth int, name token) (node, error) {
	want, ok := funcs[name.text]
	if !ok {
		known := make([]string, 0, len(funcs))
		for f := range funcs {
			known = append(known, f)
		}
		slices.Sort(known)
		return nil, &Error{Offset: name.at, Msg: fmt.Sprintf("unknown function %q%s", name.text, typo.DidYouMean(name.text, known))}
	}
	open := p.next()
	if err := p.deeper(depth, open.at); err != nil {
		return nil, err
	}
	c := &call{at: name.at, name: name.text}
	if p.peek().kind != tRParen {
		for {
			arg, err := p.or(depth + 1)
			if err != nil {
				return nil, err
			}
			if arg.typ() != text {
				return nil, &Error{Offset: arg.pos(), Msg: fmt.Sprintf("%s() takes strings, and this is a condition", name.text)}
			}
			c.args = append(c.args, arg)
			if p.peek().kind != tComma {
				break
			}
			p.next()
		}
	}
	if t := p.next(); t.kind != tRParen {
		return nil, &Error{Offset: t.at, Msg: fmt.Sprintf("expected , or ) in the arguments of %s(), got %s", name.text, t)}
	}
	switch {
	case want == -1 && len(c.args) == 0:
		return nil, &Error{Offset: name.at, Msg: fmt.Sprintf("%s() needs at least one path glob, e.g. %s('docs/**')", name.text, name.text)}
	case want >= 0 && len(c.args) != want:
		return nil, &Error{Offset: name.at, Msg: fmt.Sprintf("%s() takes %d arguments, got %d", name.text, want, len(c.args))}
	}
	switch name.text {
	case "success", "failure", "always", "cancelled":
		if p.opts.NoStatus {
			return nil, &Error{Offset: name.at, Msg: fmt.Sprintf("%s() does not apply here: a stage starts only after every earlier stage succeeded", name.text)}
		}
		p.e.status = true
	case "changed":
		for _, a := range c.args {
			s, ok := a.(*str)
			if !ok {
				return nil, &Error{Offset: a.pos(), Msg: "changed() takes globs written as strings, e.g. changed('docs/**')"}
			}
			p.e.globs = append(p.e.globs, Glob{Offset: s.at, Text: s.value})
		}
	}
	return c, nil
}
