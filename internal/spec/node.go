package spec

import (
	"fmt"
	"slices"
	"strings"

	"github.com/goccy/go-yaml/ast"

	"github.com/velocity-ci/velocity/internal/typo"
)

// This file holds the generic reading of YAML nodes: positions, kinds,
// aliases and mappings. decode.go applies the velocity.yml schema on top.

// posOf returns where a node starts, as a user would point at it.
func posOf(n ast.Node) Pos {
	switch n := n.(type) {
	case nil:
		return Pos{Line: 1, Col: 1}
	case *ast.MappingNode:
		// A block mapping's token is its first ':'; users think of the
		// mapping as starting at its first key.
		if !n.IsFlowStyle && len(n.Values) > 0 {
			return posOf(n.Values[0].Key)
		}
	case *ast.MappingValueNode:
		return posOf(n.Key)
	case *ast.MappingKeyNode:
		return posOf(n.Value)
	}
	tk := n.GetToken()
	if tk == nil || tk.Position == nil {
		return Pos{Line: 1, Col: 1}
	}
	return Pos{Line: tk.Position.Line, Col: max(tk.Position.Column, 1)}
}

// kindOf names a node's type the way a user reads it in a message:
// "got a mapping".
func kindOf(n ast.Node) string {
	switch n := n.(type) {
	case nil, *ast.NullNode:
		return "null"
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.StringNode, *ast.LiteralNode:
		return "a string"
	case *ast.IntegerNode:
		return "an integer"
	case *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return "a number"
	case *ast.BoolNode:
		return "a boolean"
	case *ast.AliasNode:
		// Only aliases that resolve found no anchor reach a type check.
		return fmt.Sprintf("*%s, which names no anchor defined before it", n.Value.GetToken().Value)
	}
	return strings.ToLower(n.Type().String())
}

func isNull(n ast.Node) bool {
	_, ok := n.(*ast.NullNode)
	return n == nil || ok
}

// scalarText returns the text of a string or number as written, so that
// VERSION: 1.10 stays "1.10" instead of becoming the float 1.1. Booleans
// are left to the caller: in a name or a script they are a likely slip.
func scalarText(n ast.Node) (string, bool) {
	switch n := n.(type) {
	case *ast.StringNode:
		return n.Value, true
	case *ast.LiteralNode:
		return n.Value.Value, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return n.GetToken().Value, true
	}
	return "", false
}

// keyText returns a mapping key as a string; keys are scalars in every
// file the schema accepts, anything else is reported as an unknown key.
func keyText(k ast.MapKeyNode) string {
	if mk, ok := k.(*ast.MappingKeyNode); ok {
		return mk.Value.GetToken().Value
	}
	return k.GetToken().Value
}

// anchors maps each alias of a document to the node its anchor names.
// It is filled in document order so a redefined anchor applies only to
// the aliases that follow it, as YAML says.
type anchors struct {
	defined map[string]ast.Node
	targets map[*ast.AliasNode]ast.Node
}

func collectAnchors(root ast.Node) *anchors {
	a := &anchors{defined: map[string]ast.Node{}, targets: map[*ast.AliasNode]ast.Node{}}
	ast.Walk(a, root)
	return a
}

// Visit implements ast.Visitor for collectAnchors.
func (a *anchors) Visit(n ast.Node) ast.Visitor {
	switch n := n.(type) {
	case *ast.AnchorNode:
		a.defined[n.Name.GetToken().Value] = n.Value
	case *ast.AliasNode:
		if target, ok := a.defined[n.Value.GetToken().Value]; ok {
			a.targets[n] = target
		}
	}
	return a
}

// resolve looks through anchors, aliases and tags to the node that holds
// the value. An alias of an undefined anchor comes back as itself, and
// the caller's type check reports it (see kindOf).
func (d *decoder) resolve(n ast.Node) ast.Node {
	// Aliases may name anchored aliases; the bound stops a loop that a
	// malformed file could build.
	for range 32 {
		switch v := n.(type) {
		case *ast.AnchorNode:
			n = v.Value
		case *ast.TagNode:
			n = v.Value
		case *ast.AliasNode:
			target, ok := d.anchors.targets[v]
			if !ok {
				return n
			}
			n = target
		default:
			return n
		}
	}
	return n
}

// entry is one key of a mapping, with its value already resolved.
type entry struct {
	key     string
	keyNode ast.Node
	value   ast.Node
}

// entries returns the keys of mapping m in file order, reporting
// duplicates (the first one wins) and expanding merge keys ("<<: *x"),
// whose keys apply only where the mapping does not set them itself.
func (d *decoder) entries(m *ast.MappingNode, path string) []entry {
	var out []entry
	first := map[string]Pos{}
	var merged []entry
	for _, mv := range m.Values {
		if _, ok := mv.Key.(*ast.MergeKeyNode); ok {
			merged = append(merged, d.mergeEntries(mv.Value, path, 0)...)
			continue
		}
		key := keyText(mv.Key)
		p := posOf(mv.Key)
		if at, dup := first[key]; dup {
			d.c.add(p, path, "duplicate key %q (first defined at line %d)", key, at.Line)
			continue
		}
		first[key] = p
		out = append(out, entry{key: key, keyNode: mv.Key, value: d.resolve(mv.Value)})
	}
	for _, e := range merged {
		if _, set := first[e.key]; !set {
			first[e.key] = posOf(e.keyNode)
			out = append(out, e)
		}
	}
	return out
}

// mergeEntries reads the value of a merge key: a mapping, or a list of
// mappings where earlier ones win.
func (d *decoder) mergeEntries(v ast.Node, path string, depth int) []entry {
	v = d.resolve(v)
	// A mapping that merges itself would otherwise recurse forever.
	if depth > 8 {
		d.c.add(posOf(v), path, "merge keys nest too deeply")
		return nil
	}
	switch v := v.(type) {
	case *ast.MappingNode:
		var out []entry
		for _, mv := range v.Values {
			if _, ok := mv.Key.(*ast.MergeKeyNode); ok {
				out = append(out, d.mergeEntries(mv.Value, path, depth+1)...)
				continue
			}
			out = append(out, entry{key: keyText(mv.Key), keyNode: mv.Key, value: d.resolve(mv.Value)})
		}
		return out
	case *ast.SequenceNode:
		var out []entry
		for _, item := range v.Values {
			out = append(out, d.mergeEntries(item, path, depth+1)...)
		}
		return out
	}
	d.c.add(posOf(v), path, `"<<" must be a mapping or a list of mappings, got %s`, kindOf(v))
	return nil
}

// fields maps each key a schema mapping may hold to the function that
// decodes its value. Its key set is also the list unknown keys are
// compared against for suggestions.
type fields map[string]func(value ast.Node)

// mapping decodes n against a schema: it calls the function of every key
// present and reports unknown, duplicate and missing required keys. It
// returns false, having reported why, when n is not a mapping.
func (d *decoder) mapping(n ast.Node, path string, schema fields, required ...string) bool {
	_, ok := d.mappingKeys(n, path, schema, required, required...)
	return ok
}

// mappingKeys is mapping for schemas whose keys depend on each other: it
// also returns where each known key present was written, and names want
// rather than required in the message for a value that is not a mapping
// (an action wants "run" even though "deploy" may stand in for it).
func (d *decoder) mappingKeys(n ast.Node, path string, schema fields, want []string, required ...string) (map[string]Pos, bool) {
	m, ok := n.(*ast.MappingNode)
	if !ok {
		what := "a mapping"
		if len(want) > 0 {
			what += " with " + quoteAll(want)
		}
		d.c.add(posOf(n), path, "must be %s, got %s", what, kindOf(n))
		return nil, false
	}
	known := make([]string, 0, len(schema))
	for k := range schema {
		known = append(known, k)
	}
	// Sorted so that equally close suggestions always pick the same key.
	slices.Sort(known)
	seen := map[string]Pos{}
	for _, e := range d.entries(m, path) {
		decode, ok := schema[e.key]
		if !ok {
			d.c.add(posOf(e.keyNode), path, "unknown key %q%s", e.key, typo.DidYouMean(e.key, known))
			continue
		}
		seen[e.key] = posOf(e.keyNode)
		decode(e.value)
	}
	for _, k := range required {
		if _, ok := seen[k]; !ok {
			d.c.add(posOf(m), path, "missing required key %q", k)
		}
	}
	return seen, true
}

// quoteAll renders keys for a message: "name" and "actions".
func quoteAll(keys []string) string {
	q := make([]string, len(keys))
	for i, k := range keys {
		q[i] = fmt.Sprintf("%q", k)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " and " + q[len(q)-1]
}

// join extends a field path: join("stages[0]", "name").
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// index extends a field path with a list index: index("stages", 0).
func index(path string, i int) string {
	return fmt.Sprintf("%s[%d]", path, i)
}
