package spec

import (
	"errors"
	"slices"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"

	"github.com/velocity-ci/velocity/internal/expr"
)

// Condition is an `if:` of an action or a stage: an expression of the
// expr language, evaluated when the action is ready (or the stage about
// to start). A false condition skips the action, with the condition in
// the reason.
type Condition struct {
	// Text is the condition as written.
	Text string
	Pos  Pos
	// Expr is the parsed condition.
	Expr *expr.Expr `json:"-"`
}

// condition reads an if: value. It is parsed once the whole action is
// read, since matrix (which says what matrix.NAME may name) may come
// after it.
func (d *decoder) condition(v ast.Node, path string, opts expr.Options) *Condition {
	if isNull(v) {
		d.c.add(posOf(v), path, "must be a condition such as branch == 'main' (leave if out to always run)")
		return nil
	}
	if b, ok := v.(*ast.BoolNode); ok {
		// if: true is harmless; if: false is a way to switch an action off.
		text := b.GetToken().Value
		e, _ := expr.Parse(strings.ToLower(text), opts)
		return &Condition{Text: text, Pos: posOf(v), Expr: e}
	}
	text, ok := d.str(v, path)
	if !ok {
		return nil
	}
	e, err := expr.Parse(text, opts)
	var pe *expr.Error
	if errors.As(err, &pe) {
		d.c.add(exprPos(v, text, pe.Offset), path, "%s", pe.Msg)
		return nil
	}
	c := &Condition{Text: text, Pos: posOf(v), Expr: e}
	for _, g := range e.Patterns() {
		if _, problem := checkPath(g.Text, true); problem != "" {
			d.c.add(exprPos(v, text, g.Offset), path, "changed(): %s", problem)
		}
	}
	return c
}

// exprPos turns a byte offset in a condition into a file position. The
// offset maps exactly for a condition written on one line, plain or in
// quotes without escapes; otherwise the value's start is the best guess.
func exprPos(v ast.Node, text string, offset int) Pos {
	p := posOf(v)
	if strings.Contains(text, "\n") {
		return p
	}
	if s, ok := v.(*ast.StringNode); ok && s.Token != nil {
		switch s.Token.Type {
		case token.SingleQuoteType:
			if strings.Contains(text[:min(offset, len(text))], "'") {
				return p // doubled quotes shift the columns
			}
			p.Col++
		case token.DoubleQuoteType:
			if strings.Contains(text[:min(offset, len(text))], `"`) || strings.Contains(text[:min(offset, len(text))], `\`) {
				return p
			}
			p.Col++
		}
	}
	p.Col += offset
	return p
}

// conditionOptions says what an action's condition may name: the
// variables of its matrix, if it has one.
func conditionOptions(m *Matrix) expr.Options {
	if m == nil {
		return expr.Options{}
	}
	names := []string{}
	for _, v := range m.Vars {
		names = append(names, v.Name)
	}
	for _, inc := range m.Include {
		for _, kv := range inc {
			if !slices.Contains(names, kv.Name) {
				names = append(names, kv.Name)
			}
		}
	}
	return expr.Options{Matrix: names}
}
