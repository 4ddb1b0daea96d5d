package jsonata

// ContextRef is a field name an expression reads from its context item
// at the top level, Offset being where it is written (in UTF-16 units,
// as error positions).
type ContextRef struct {
	Name   string
	Offset int
}

// ContextReferences lists the names the expression reads from the
// context item outside any path step, predicate, sort or lambda: the
// first step of a path, operands, arguments, object and array
// constructors. Step Functions evaluates expressions with no context
// item (the input is $states.input) and refuses a definition holding
// such a reference (UNSUPPORTED_JSONATA_EXPRESSION); a name in a later
// step or a predicate reads what the path selected and is not listed.
func (e *Expression) ContextReferences() []ContextRef {
	var refs []ContextRef
	var walk func(n *node)
	walk = func(n *node) {
		if n == nil {
			return
		}
		switch n.kind {
		case "name":
			refs = append(refs, ContextRef{Name: n.value, Offset: utf16Len(e.src[:min(n.pos, len(e.src))])})
		case "path":
			if len(n.steps) > 0 {
				first := *n.steps[0]
				// The step's own predicates read what it selected.
				first.stages, first.predicate = nil, nil
				walk(&first)
			}
		case "binary", "apply":
			walk(n.lhs)
			walk(n.rhs)
		case "unary":
			walk(n.expression)
			for _, it := range n.items {
				walk(it)
			}
			for _, p := range n.pairs {
				walk(p[0])
				walk(p[1])
			}
		case "condition":
			walk(n.condition)
			walk(n.then)
			walk(n.els)
		case "block":
			for _, it := range n.items {
				walk(it)
			}
		case "bind":
			walk(n.rhs)
		case "function", "partial":
			walk(n.procedure)
			for _, it := range n.items {
				walk(it)
			}
		}
	}
	walk(e.root)
	return refs
}
