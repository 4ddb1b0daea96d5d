package asl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"

	"github.com/velocity-ci/velocity/internal/yamllimit"
)

// This file turns a JSON or YAML source into a tree of JSON values that
// remember where they were written. YAML goes through the YAML parser;
// JSON goes through the strict parser of jsonsource.go, because the YAML
// parser also accepts what JSON forbids (trailing commas, single quotes).
// Both build the same tree, so both formats get the same checks.

type kind int

const (
	kindNull kind = iota
	kindBool
	kindNumber
	kindString
	kindObject
	kindArray
)

// node is one JSON value of the definition.
type node struct {
	kind kind
	pos  pos
	// text is a string's value or a number's JSON text, exactly as
	// written when the source wrote a JSON number.
	text    string
	boolean bool
	items   []*node
	fields  []*field
	// plain is set for an unquoted YAML scalar, so that a message about
	// a number where a string belongs can suggest quoting it.
	plain bool
}

// field is one member of an object.
type field struct {
	key    string
	keyPos pos
	value  *node
}

// get returns the member named key, or nil.
func (n *node) get(key string) *node {
	if n == nil || n.kind != kindObject {
		return nil
	}
	for _, f := range n.fields {
		if f.key == key {
			return f.value
		}
	}
	return nil
}

// field returns the member named key with its key position, or nil.
func (n *node) field(key string) *field {
	if n == nil || n.kind != kindObject {
		return nil
	}
	for _, f := range n.fields {
		if f.key == key {
			return f
		}
	}
	return nil
}

// describe names a value's type the way a user reads it in a message.
func (n *node) describe() string {
	if n == nil {
		return "nothing"
	}
	switch n.kind {
	case kindNull:
		return "null"
	case kindBool:
		return "a boolean"
	case kindNumber:
		return "the number " + n.text
	case kindString:
		return fmt.Sprintf("the string %q", n.text)
	case kindObject:
		return "an object"
	case kindArray:
		return "an array"
	}
	return "an unknown value"
}

// json renders the node as compact JSON; numbers keep their text so no
// precision is lost on the way to the interpreter.
func (n *node) json() json.RawMessage {
	var b strings.Builder
	n.appendJSON(&b)
	return json.RawMessage(b.String())
}

func (n *node) appendJSON(b *strings.Builder) {
	switch n.kind {
	case kindNull:
		b.WriteString("null")
	case kindBool:
		b.WriteString(strconv.FormatBool(n.boolean))
	case kindNumber:
		b.WriteString(n.text)
	case kindString:
		writeJSONString(b, n.text)
	case kindArray:
		b.WriteByte('[')
		for i, it := range n.items {
			if i > 0 {
				b.WriteByte(',')
			}
			it.appendJSON(b)
		}
		b.WriteByte(']')
	case kindObject:
		b.WriteByte('{')
		for i, f := range n.fields {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(b, f.key)
			b.WriteByte(':')
			f.value.appendJSON(b)
		}
		b.WriteByte('}')
	}
}

func writeJSONString(b *strings.Builder, s string) {
	// Marshalling a string cannot fail; it also replaces invalid UTF-8.
	q, _ := json.Marshal(s)
	b.Write(q)
}

// jsonNumber is the grammar of a JSON number (RFC 8259).
var jsonNumber = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$`) })

// parseSource reads src into a node tree. Syntax errors, an empty source,
// several documents and duplicate keys are added to r; the tree is nil
// when there is nothing to check.
func parseSource(r *report, src []byte) *node {
	// Editors on some systems start UTF-8 files with a byte order mark.
	src = bytes.TrimPrefix(src, []byte("\xef\xbb\xbf"))
	if isJSONSource(r.file, src) {
		return parseJSONSource(r, src)
	}
	// Duplicate keys are let through so that they are reported with the
	// definition's other problems instead of aborting. Nesting and aliases
	// are bounded before any tree is built, so a hostile source costs
	// neither the parser's memory nor the converter's.
	f, err := yamllimit.Parse(src, yamllimit.Limits{}, parser.AllowDuplicateMapKey())
	var le *yamllimit.LimitError
	if errors.As(err, &le) {
		p := pos{le.Line, le.Col}
		r.add(p, yamlPointerAt(strings.Split(string(src), "\n"), p.line), "%s", le.Error())
		return nil
	}
	if err != nil {
		syntaxError(r, src, err)
		return nil
	}
	var docs []*ast.DocumentNode
	for _, doc := range f.Docs {
		if doc.Body != nil {
			docs = append(docs, doc)
		}
	}
	if len(docs) == 0 {
		r.add(pos{1, 1}, "", `the definition is empty; it needs "StartAt" and "States"`)
		return nil
	}
	if len(docs) > 1 {
		r.add(posOf(docs[1].Body), "", "the source holds %d YAML documents but a definition is one", len(docs))
	}
	// Only YAML has unquoted strings; a JSON number is never a slip.
	trimmed := strings.TrimSpace(string(src))
	yamlSource := !strings.HasPrefix(trimmed, "{") && !strings.HasPrefix(trimmed, "[")
	c := &converter{r: r, anchors: map[string]ast.Node{}, yaml: yamlSource}
	return c.convert(docs[0].Body, "", 0)
}

// syntaxError reports the parser's error at the token it blames, in
// words that say what to fix, under the pointer of the mapping the line
// sits in when the indentation tells it.
func syntaxError(r *report, src []byte, err error) {
	p, msg := pos{1, 1}, err.Error()
	var ye yaml.Error
	if errors.As(err, &ye) {
		msg = ye.GetMessage()
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			p = pos{max(tk.Position.Line, 1), max(tk.Position.Column, 1)}
		}
	}
	lines := strings.Split(string(src), "\n")
	msg = explainYAMLError(lines, p, msg)
	msg = strings.NewReplacer("\t", `\t`, "\n", " ").Replace(msg)
	r.add(p, yamlPointerAt(lines, p.line), "invalid YAML: %s", msg)
}

// posOf returns where a node starts as a user would point at it.
func posOf(n ast.Node) pos {
	switch v := n.(type) {
	case nil:
		return pos{1, 1}
	case *ast.MappingNode:
		// A block mapping's token is its first ':'; users see the
		// mapping as starting at its first key.
		if !v.IsFlowStyle && len(v.Values) > 0 {
			return posOf(v.Values[0].Key)
		}
	case *ast.MappingValueNode:
		return posOf(v.Key)
	case *ast.MappingKeyNode:
		return posOf(v.Value)
	case *ast.AnchorNode:
		return posOf(v.Value)
	case *ast.TagNode:
		return posOf(v.Value)
	}
	tk := n.GetToken()
	if tk == nil || tk.Position == nil {
		return pos{1, 1}
	}
	return pos{max(tk.Position.Line, 1), max(tk.Position.Column, 1)}
}

// converter builds nodes from the YAML AST, resolving anchors and aliases
// in document order as YAML says.
type converter struct {
	r       *report
	anchors map[string]ast.Node
	yaml    bool
	// expanding is set while an alias's copy is built: anchors inside it
	// were defined where they are written and are not defined again.
	expanding int
	// nodes counts the values built; aliases copy their anchor's value,
	// so a few lines of YAML could otherwise expand without bound.
	nodes   int
	tooMany bool
}

// maxDepth bounds nesting, so a hostile source cannot exhaust the stack,
// and maxNodes the values a definition expands to. The YAML reader checks
// both before a tree is built (yamllimit.Parse) and the JSON reader
// checks the depth as it reads; converter checks again so that the tree
// it builds is bounded whatever reaches it.
const (
	maxDepth = yamllimit.DefaultMaxDepth
	maxNodes = yamllimit.DefaultMaxValues
)

func (c *converter) convert(n ast.Node, ptr string, depth int) *node {
	p := posOf(n)
	n, alias, ok := c.unwrap(n, ptr)
	if !ok {
		return &node{kind: kindNull, pos: p}
	}
	if alias {
		c.expanding++
		defer func() { c.expanding-- }()
	}
	// Anchors, tags and aliases are not values of their own: they count
	// as the value they stand for, as yamllimit counts them.
	if c.nodes++; c.nodes > maxNodes {
		if !c.tooMany {
			c.tooMany = true
			c.r.add(p, ptr, "the definition expands to more than %d values (limit %q is %d); check its YAML aliases",
				maxNodes, yamllimit.NameMaxValues, maxNodes)
		}
		return &node{kind: kindNull, pos: p}
	}
	if depth > maxDepth {
		c.r.add(p, ptr, "values nest more than %d deep (limit %q is %d)", maxDepth, yamllimit.NameMaxDepth, maxDepth)
		return &node{kind: kindNull, pos: p}
	}
	switch v := n.(type) {
	case nil, *ast.NullNode:
		return &node{kind: kindNull, pos: p}
	case *ast.BoolNode:
		return &node{kind: kindBool, pos: p, boolean: v.Value, plain: c.yaml}
	case *ast.IntegerNode:
		text := v.Token.Value
		if !jsonNumber().MatchString(text) {
			text = fmt.Sprint(v.Value) // 0x1F, 1_000, +5
		}
		return &node{kind: kindNumber, pos: p, text: text, plain: c.yaml}
	case *ast.FloatNode:
		text := v.Token.Value
		if !jsonNumber().MatchString(text) {
			text = strconv.FormatFloat(v.Value, 'g', -1, 64)
		}
		return &node{kind: kindNumber, pos: p, text: text, plain: c.yaml}
	case *ast.InfinityNode, *ast.NanNode:
		c.r.add(p, ptr, "%s is not a JSON number", n.GetToken().Value)
		return &node{kind: kindNull, pos: p}
	case *ast.StringNode:
		plain := c.yaml && v.Token.Type == token.StringType
		// The YAML parser leaves exponents such as 1e3 as strings; in
		// JSON they are numbers.
		if v.Token.Type == token.StringType && jsonNumber().MatchString(v.Value) {
			return &node{kind: kindNumber, pos: p, text: v.Value, plain: c.yaml}
		}
		return &node{kind: kindString, pos: p, text: v.Value, plain: plain}
	case *ast.LiteralNode:
		return &node{kind: kindString, pos: p, text: v.Value.Value}
	case *ast.SequenceNode:
		out := &node{kind: kindArray, pos: p}
		for i, it := range v.Values {
			out.items = append(out.items, c.convert(it, pointerIndex(ptr, i), depth+1))
		}
		return out
	case *ast.MappingNode:
		out := &node{kind: kindObject, pos: p}
		c.members(out, v.Values, ptr, depth)
		return out
	case *ast.MappingValueNode:
		out := &node{kind: kindObject, pos: p}
		c.members(out, []*ast.MappingValueNode{v}, ptr, depth)
		return out
	}
	c.r.add(p, ptr, "%s has no JSON equivalent", strings.ToLower(n.Type().String()))
	return &node{kind: kindNull, pos: p}
}

// unwrap looks through anchors, tags and aliases to the value n stands
// for, defining anchors on the way, and tells whether an alias was among
// them. It reports and returns false for what has no JSON value: an alias
// without an anchor, an unknown tag, an alias that names itself.
func (c *converter) unwrap(n ast.Node, ptr string) (ast.Node, bool, bool) {
	alias := false
	// "&a *a" would otherwise loop; real chains of aliases are short.
	for range 32 {
		switch v := n.(type) {
		case *ast.AnchorNode:
			if c.expanding == 0 && !alias {
				c.anchors[v.Name.GetToken().Value] = v.Value
			}
			n = v.Value
		case *ast.AliasNode:
			name := v.Value.GetToken().Value
			target, ok := c.anchors[name]
			if !ok {
				c.r.add(posOf(v), ptr, "alias *%s names no anchor defined before it", name)
				return nil, false, false
			}
			n, alias = target, true
		case *ast.TagNode:
			switch tag := v.Start.Value; tag {
			case "!!str", "!!int", "!!float", "!!bool", "!!null", "!!map", "!!seq":
				n = v.Value
			default:
				c.r.add(posOf(v), ptr, "YAML tag %s has no JSON equivalent", tag)
				return nil, false, false
			}
		default:
			return n, alias, true
		}
	}
	c.r.add(posOf(n), ptr, "the alias names itself or a chain of more than 32 aliases")
	return nil, false, false
}

// members adds a mapping's keys to out in source order, reporting
// duplicates (the first one wins) and expanding YAML merge keys, whose
// keys apply only where the mapping does not set them itself.
func (c *converter) members(out *node, values []*ast.MappingValueNode, ptr string, depth int) {
	first := map[string]pos{}
	var merged []*field
	for _, mv := range values {
		if _, ok := mv.Key.(*ast.MergeKeyNode); ok {
			src := c.convert(mv.Value, ptr, depth+1)
			switch src.kind {
			case kindObject:
				merged = append(merged, src.fields...)
			case kindArray:
				for _, it := range src.items {
					if it.kind == kindObject {
						merged = append(merged, it.fields...)
					}
				}
			default:
				c.r.add(src.pos, ptr, `"<<" must merge an object or an array of objects, got %s`, src.describe())
			}
			continue
		}
		key, kp := keyText(mv.Key), posOf(mv.Key)
		if at, dup := first[key]; dup {
			c.r.add(kp, pointerJoin(ptr, key), "duplicate field %q (first defined at line %d)", key, at.line)
			continue
		}
		first[key] = kp
		out.fields = append(out.fields, &field{key: key, keyPos: kp, value: c.convert(mv.Value, pointerJoin(ptr, key), depth+1)})
	}
	for _, f := range merged {
		if _, set := first[f.key]; !set {
			first[f.key] = f.keyPos
			out.fields = append(out.fields, f)
		}
	}
}

// keyText returns a mapping key as a string: JSON keys always are, and a
// YAML key such as 1 or true is read as the text written.
func keyText(k ast.MapKeyNode) string {
	if mk, ok := k.(*ast.MappingKeyNode); ok {
		return mk.Value.GetToken().Value
	}
	if s, ok := k.(*ast.StringNode); ok {
		return s.Value
	}
	return k.GetToken().Value
}
