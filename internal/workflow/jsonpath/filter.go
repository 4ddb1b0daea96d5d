package jsonpath

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strings"
	"unicode"

	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

// expr is a compiled filter expression, the part inside [?( ... )].
type expr interface {
	truth(root, cur any) bool
}

type orExpr struct{ l, r expr }
type andExpr struct{ l, r expr }
type notExpr struct{ e expr }
type existsExpr struct{ o operand }
type cmpExpr struct {
	op   string
	l, r operand
}

func (e orExpr) truth(root, cur any) bool  { return e.l.truth(root, cur) || e.r.truth(root, cur) }
func (e andExpr) truth(root, cur any) bool { return e.l.truth(root, cur) && e.r.truth(root, cur) }
func (e notExpr) truth(root, cur any) bool { return !e.e.truth(root, cur) }

func (e existsExpr) truth(root, cur any) bool {
	v, ok := e.o.eval(root, cur)
	if !ok {
		return false
	}
	// A literal alone is a boolean test, as in [?(true)].
	if e.o.path == nil {
		b, isBool := v.(bool)
		return isBool && b
	}
	return true
}

func (e cmpExpr) truth(root, cur any) bool {
	l, lok := e.l.eval(root, cur)
	r, rok := e.r.eval(root, cur)
	switch e.op {
	case "==":
		return lok && rok && looseEqual(l, r)
	case "!=":
		return !(lok && rok && looseEqual(l, r))
	case "=~":
		s, ok := l.(string)
		return lok && ok && e.r.re != nil && e.r.re.MatchString(s)
	}
	if !lok || !rok {
		return false
	}
	c, ok := order(l, r)
	if !ok {
		return false
	}
	switch e.op {
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	case ">=":
		return c >= 0
	}
	return false
}

// operand is a path (relative to @ or to $), a literal or a regex.
type operand struct {
	path     *Path
	relative bool
	value    any
	re       *regexp.Regexp
}

func (o operand) eval(root, cur any) (any, bool) {
	if o.path == nil {
		return o.value, true
	}
	base := root
	if o.relative {
		base = cur
	}
	if o.path.definite {
		v, err := o.path.getDefinite(base, true)
		return v, err == nil
	}
	out := []any{}
	if err := o.path.walk(root, base, 0, &out, true); err != nil {
		return nil, false
	}
	return out, true
}

// looseEqual compares two JSON values as Jayway's filters do: numbers by
// value (1 == 1.0), and a number with a string by reading the right-hand
// side as the left-hand side's type (1 == '1', '1' == 1).
func looseEqual(a, b any) bool {
	if an, ok := number(a); ok {
		if s, isString := b.(string); isString {
			b = json.Number(s)
		}
		bn, ok := number(b)
		return ok && an.Cmp(bn) == 0
	}
	switch a := a.(type) {
	case string:
		if n, isNumber := b.(json.Number); isNumber {
			return a == string(n)
		}
		b, ok := b.(string)
		return ok && a == b
	case bool:
		b, ok := b.(bool)
		return ok && a == b
	case nil:
		return b == nil
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !looseEqual(a[i], b[i]) {
				return false
			}
		}
		return true
	case *jsonvalue.Object:
		b, ok := b.(*jsonvalue.Object)
		if !ok || a.Len() != b.Len() {
			return false
		}
		for k, av := range a.All() {
			bv, ok := b.Get(k)
			if !ok || !looseEqual(av, bv) {
				return false
			}
		}
		return true
	}
	return false
}

// order compares two numbers or two strings.
func order(a, b any) (int, bool) {
	if an, ok := number(a); ok {
		if bn, ok := number(b); ok {
			return an.Cmp(bn), true
		}
		return 0, false
	}
	as, ok1 := a.(string)
	bs, ok2 := b.(string)
	if ok1 && ok2 {
		return strings.Compare(as, bs), true
	}
	return 0, false
}

func number(v any) (*big.Float, bool) {
	switch v := v.(type) {
	case json.Number:
		f, _, err := big.ParseFloat(string(v), 10, 128, big.ToNearestEven)
		return f, err == nil
	case float64:
		return big.NewFloat(v), true
	case int:
		return new(big.Float).SetInt64(int64(v)), true
	case int64:
		return new(big.Float).SetInt64(v), true
	}
	return nil, false
}

// The filter grammar:
//
//	or      = and { "||" and }
//	and     = unary { "&&" unary }
//	unary   = "!" unary | "(" or ")" | operand [ op operand ]
//	operand = @path | $path | 'string' | "string" | number | true | false | null | /regex/flags
type filterParser struct {
	src string
	pos int
}

func parseFilter(src string) (expr, error) {
	fp := &filterParser{src: src}
	e, err := fp.or()
	if err != nil {
		return nil, err
	}
	fp.space()
	if fp.pos != len(fp.src) {
		return nil, fmt.Errorf("unexpected %q in filter", fp.src[fp.pos:])
	}
	return e, nil
}

func (fp *filterParser) space() {
	for fp.pos < len(fp.src) && (fp.src[fp.pos] == ' ' || fp.src[fp.pos] == '\t') {
		fp.pos++
	}
}

func (fp *filterParser) eat(tok string) bool {
	fp.space()
	if strings.HasPrefix(fp.src[fp.pos:], tok) {
		fp.pos += len(tok)
		return true
	}
	return false
}

func (fp *filterParser) or() (expr, error) {
	l, err := fp.and()
	if err != nil {
		return nil, err
	}
	for fp.eat("||") {
		r, err := fp.and()
		if err != nil {
			return nil, err
		}
		l = orExpr{l, r}
	}
	return l, nil
}

func (fp *filterParser) and() (expr, error) {
	l, err := fp.unary()
	if err != nil {
		return nil, err
	}
	for fp.eat("&&") {
		r, err := fp.unary()
		if err != nil {
			return nil, err
		}
		l = andExpr{l, r}
	}
	return l, nil
}

func (fp *filterParser) unary() (expr, error) {
	fp.space()
	if strings.HasPrefix(fp.src[fp.pos:], "!") && !strings.HasPrefix(fp.src[fp.pos:], "!=") {
		fp.pos++
		e, err := fp.unary()
		if err != nil {
			return nil, err
		}
		return notExpr{e}, nil
	}
	if fp.eat("(") {
		e, err := fp.or()
		if err != nil {
			return nil, err
		}
		if !fp.eat(")") {
			return nil, errors.New("missing ')' in filter")
		}
		return e, nil
	}
	l, err := fp.operand(false)
	if err != nil {
		return nil, err
	}
	fp.space()
	for _, op := range []string{"==", "!=", "<=", ">=", "=~", "<", ">"} {
		if fp.eat(op) {
			r, err := fp.operand(op == "=~")
			if err != nil {
				return nil, err
			}
			return cmpExpr{op: op, l: l, r: r}, nil
		}
	}
	return existsExpr{l}, nil
}

func (fp *filterParser) operand(regex bool) (operand, error) {
	fp.space()
	if fp.pos >= len(fp.src) {
		return operand{}, errors.New("filter ends where a value was expected")
	}
	rest := fp.src[fp.pos:]
	switch c := rest[0]; {
	case regex:
		if c != '/' {
			return operand{}, errors.New("=~ takes a /regex/")
		}
		end := -1
		for j := 1; j < len(rest); j++ {
			if rest[j] == '\\' {
				j++
				continue
			}
			if rest[j] == '/' {
				end = j
				break
			}
		}
		if end <= 0 {
			return operand{}, errors.New("unclosed /regex/")
		}
		pattern := rest[1:end]
		j := end + 1
		for j < len(rest) && strings.IndexByte("imsx", rest[j]) >= 0 {
			j++
		}
		flags := rest[end+1 : j]
		fp.pos += j
		prefix := ""
		if flags != "" {
			prefix = "(?" + strings.ReplaceAll(flags, "x", "") + ")"
			if prefix == "(?)" {
				prefix = ""
			}
		}
		// Jayway's =~ matches the whole string.
		re, err := regexp.Compile(prefix + "^(?:" + pattern + ")$")
		if err != nil {
			return operand{}, fmt.Errorf("bad regex /%s/: %w", pattern, err)
		}
		return operand{re: re}, nil
	case c == '@' || c == '$':
		end := pathExtent(rest)
		text := rest[:end]
		fp.pos += end
		relative := c == '@'
		if relative {
			text = "$" + text[1:]
		}
		p, err := Parse(text)
		if err != nil {
			return operand{}, err
		}
		if p.length {
			return operand{}, errors.New("functions are not supported inside filters")
		}
		return operand{path: p, relative: relative}, nil
	case c == '\'' || c == '"':
		ps := &parser{src: rest}
		s, err := ps.quoted()
		if err != nil {
			return operand{}, err
		}
		fp.pos += ps.pos
		return operand{value: s}, nil
	case c == '-' || (c >= '0' && c <= '9'):
		j := 1
		for j < len(rest) && strings.IndexByte("0123456789.eE+-", rest[j]) >= 0 {
			j++
		}
		n := json.Number(rest[:j])
		if _, err := n.Float64(); err != nil {
			return operand{}, fmt.Errorf("bad number %q in filter", rest[:j])
		}
		fp.pos += j
		return operand{value: n}, nil
	}
	for word, v := range map[string]any{"true": true, "false": false, "null": nil} {
		if strings.HasPrefix(rest, word) && bareWordLen(rest) == len(word) {
			fp.pos += len(word)
			return operand{value: v}, nil
		}
	}
	// Step Functions runs filters with an unquoted word as the value
	// compared to ($.Labels[?(@.Name==Receipt)] in published samples);
	// the word is read as the string it spells.
	if n := bareWordLen(rest); n > 0 {
		fp.pos += n
		return operand{value: rest[:n]}, nil
	}
	return operand{}, fmt.Errorf("unexpected %q in filter", rest)
}

// bareWordLen is the length of the unquoted word at the start of s: a
// letter or '_', then letters, digits, '_', '-' and '.'.
func bareWordLen(s string) int {
	for i, r := range s {
		switch {
		case r == '_' || unicode.IsLetter(r):
		case i > 0 && (unicode.IsDigit(r) || r == '-' || r == '.'):
		default:
			return i
		}
	}
	return len(s)
}

// pathExtent is the length of the path at the start of s: up to a space,
// an operator or an unbalanced ')', outside brackets and quotes.
func pathExtent(s string) int {
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
		case c == '[':
			depth++
		case c == ']':
			depth--
		case depth == 0 && strings.IndexByte(" \t=!<>&|)", c) >= 0:
			return i
		}
	}
	return len(s)
}
