// Package yamllimit parses YAML definitions that may be hostile within
// bounds on what they can cost: how deep their values nest and how many
// values their aliases expand to. velocity.yml and ASL YAML definitions
// both go through it, so both are bounded the same way.
//
// The YAML parser (goccy/go-yaml) builds, for every node, a path string
// as long as the node is deep and keeps them all, so its memory grows
// with the square of the nesting: 100,000 levels of "[" in 200 KB took
// more than 12 GB. Parse therefore counts nesting while the source is
// tokenised and stops before the parser sees a source nested past the
// limit; aliases are expanded only in a counting walk of the finished
// tree, which stops at the value limit.
package yamllimit

import (
	"fmt"
	"io"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/scanner"
	"github.com/goccy/go-yaml/token"
)

// Defaults of Limits. MaxDepth is the nesting the JSON reader of ASL has
// always allowed; MaxValues lets a definition expand to far more than any
// real one holds (a pipeline of 10,000 actions is about 100,000 values)
// while an alias bomb stops within a few tens of milliseconds.
const (
	DefaultMaxDepth  = 200
	DefaultMaxValues = 1_000_000
)

// Limits bound a YAML source; a zero field takes its default.
type Limits struct {
	// MaxDepth is the deepest a value may nest: the top-level value is
	// at depth 0, its items or members at 1, and so on. An alias counts
	// at the depth where it is used, with everything its anchor holds.
	MaxDepth int
	// MaxValues is how many values (mappings, lists, scalars, keys
	// included) the document may hold once every alias is replaced by
	// a copy of what its anchor names.
	MaxValues int
}

func (l Limits) maxDepth() int {
	if l.MaxDepth > 0 {
		return l.MaxDepth
	}
	return DefaultMaxDepth
}

func (l Limits) maxValues() int {
	if l.MaxValues > 0 {
		return l.MaxValues
	}
	return DefaultMaxValues
}

// Names of the limits as errors and docs/security.md spell them.
const (
	NameMaxDepth  = "max nesting depth"
	NameMaxValues = "max alias expansion"
)

// LimitError is a source that exceeds a limit. Line and Col are where the
// limit was crossed: the value nested one level too deep, or the alias
// whose expansion passed the value limit.
type LimitError struct {
	Limit     string // NameMaxDepth or NameMaxValues
	Value     int    // the limit in force
	Line, Col int
}

func (e *LimitError) Error() string {
	switch e.Limit {
	case NameMaxDepth:
		return fmt.Sprintf("values nest more than %d deep (limit %q is %d); flatten the structure", e.Value, e.Limit, e.Value)
	case NameMaxValues:
		return fmt.Sprintf("the document expands to more than %d values through its aliases (limit %q is %d); use fewer or smaller aliases", e.Value, e.Limit, e.Value)
	}
	return fmt.Sprintf("limit %q (%d) exceeded", e.Limit, e.Value)
}

// Parse parses src like parser.ParseBytes with mode 0 and opts, after
// checking that it stays within lim. A source over a limit gives a
// *LimitError; a syntax error is the parser's own error.
func Parse(src []byte, lim Limits, opts ...parser.Option) (*ast.File, error) {
	tokens, err := tokenize(src, lim.maxDepth())
	if err != nil {
		return nil, err
	}
	f, err := parser.Parse(tokens, 0, opts...)
	if err != nil {
		return nil, err
	}
	if err := check(f, lim); err != nil {
		return nil, err
	}
	return f, nil
}

// tokenize is lexer.Tokenize stopping at the first token that proves the
// source nests deeper than maxDepth. It sees only what tokens show on
// their own: open flow collections, and block entries ("- ", "? ")
// chained on one line, as "- - - x" is a list in a list in a list. That
// never counts more than the true depth, so it never refuses a source
// that is within the limit; what it misses (block nesting over many
// lines, each indented further) needs a source whose size grows with the
// square of its depth, and the parser copes with it; check then
// measures the exact depth on the tree.
func tokenize(src []byte, maxDepth int) (token.Tokens, error) {
	var s scanner.Scanner
	s.Init(string(src))
	var tokens token.Tokens
	flow := 0
	chain, chainLine := 0, 0
	for {
		sub, err := s.Scan()
		if err == io.EOF {
			return tokens, nil
		}
		for _, tk := range sub {
			open := false
			switch tk.Type {
			case token.SequenceStartType, token.MappingStartType:
				flow++
				open = true
			case token.SequenceEndType, token.MappingEndType:
				flow = max(flow-1, 0)
			case token.SequenceEntryType, token.MappingKeyType:
				if flow > 0 {
					break
				}
				if tk.Position.Line != chainLine {
					chain, chainLine = 0, tk.Position.Line
				}
				chain++
				open = true
			}
			if !open {
				continue
			}
			depth := flow
			if chainLine == tk.Position.Line {
				depth += chain
			}
			// depth counts the collections open here, this one included;
			// the values inside the innermost are one deeper than it.
			if depth-1 > maxDepth {
				return nil, &LimitError{Limit: NameMaxDepth, Value: maxDepth, Line: tk.Position.Line, Col: tk.Position.Column}
			}
		}
		// Like lexer.Tokenize, scanning goes on after an error: an
		// invalid token is among the tokens, and parser.Parse reports it.
		tokens.Add(sub...)
	}
}

// check walks every document of f as a decoder would see it, aliases
// replaced by what their anchors name, and stops at the first value too
// deep or the first value past the count.
func check(f *ast.File, lim Limits) error {
	w := &walker{maxDepth: lim.maxDepth(), maxValues: lim.maxValues()}
	for _, doc := range f.Docs {
		// Anchors belong to their document.
		w.anchors = map[string]ast.Node{}
		if err := w.walk(doc.Body, 0, nil); err != nil {
			return err
		}
	}
	return nil
}

type walker struct {
	maxDepth, maxValues int
	values              int
	// anchors holds the anchors defined so far in document order, so an
	// alias names the latest anchor before it, as YAML says.
	anchors map[string]ast.Node
}

// walk visits n at depth. via is the alias whose copy is being walked,
// nil outside one: a limit crossed inside the copy is reported at the
// alias, since the anchor is within the limits where it is written, and
// anchors inside the copy are not defined again.
func (w *walker) walk(n ast.Node, depth int, via ast.Node) error {
	for {
		switch v := n.(type) {
		case *ast.AnchorNode:
			if via == nil {
				w.anchors[v.Name.GetToken().Value] = v.Value
			}
			n = v.Value
			continue
		case *ast.TagNode:
			n = v.Value
			continue
		case *ast.AliasNode:
			target, ok := w.anchors[v.Value.GetToken().Value]
			if !ok {
				// The decoder reports an alias without an anchor.
				return nil
			}
			if via == nil {
				via = v
			}
			n = target
			continue
		}
		break
	}
	if n == nil {
		return nil
	}
	if err := w.count(n, depth, via); err != nil {
		return err
	}
	switch v := n.(type) {
	case *ast.MappingNode:
		for _, mv := range v.Values {
			if err := w.walkEntry(mv, depth+1, via); err != nil {
				return err
			}
		}
	case *ast.MappingValueNode:
		// A single key: value where a mapping may stand.
		return w.walkEntry(v, depth+1, via)
	case *ast.MappingKeyNode:
		return w.walk(v.Value, depth, via)
	case *ast.SequenceNode:
		for _, item := range v.Values {
			if err := w.walk(item, depth+1, via); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *walker) walkEntry(mv *ast.MappingValueNode, depth int, via ast.Node) error {
	if err := w.walk(mv.Key, depth, via); err != nil {
		return err
	}
	return w.walk(mv.Value, depth, via)
}

func (w *walker) count(n ast.Node, depth int, via ast.Node) error {
	at := n
	if via != nil {
		at = via
	}
	if depth > w.maxDepth {
		return limitAt(at, NameMaxDepth, w.maxDepth)
	}
	if w.values++; w.values > w.maxValues {
		return limitAt(at, NameMaxValues, w.maxValues)
	}
	return nil
}

func limitAt(n ast.Node, name string, value int) *LimitError {
	e := &LimitError{Limit: name, Value: value, Line: 1, Col: 1}
	// A block mapping's token is its first ':'; users see the mapping
	// as starting at its first key.
	if m, ok := n.(*ast.MappingNode); ok && !m.IsFlowStyle && len(m.Values) > 0 {
		n = m.Values[0].Key
	}
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		e.Line, e.Col = max(tk.Position.Line, 1), max(tk.Position.Column, 1)
	}
	return e
}
