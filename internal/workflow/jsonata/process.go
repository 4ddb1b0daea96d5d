package jsonata

import "fmt"

// process rewrites the raw parse tree as the reference's ast post-processing
// does: dotted expressions become paths of steps, predicates become stages,
// and parent operators are resolved to the steps that bind them.
func (p *parser) process(e *node) (*node, error) {
	var r *node
	var err error
	switch e.kind {
	case "binary":
		switch e.value {
		case ".":
			lstep, err := p.process(e.lhs)
			if err != nil {
				return nil, err
			}
			if lstep.kind == "path" {
				r = lstep
			} else {
				r = &node{kind: "path", steps: []*node{lstep}, pos: e.pos}
			}
			if lstep.kind == "parent" {
				r.seekingParent = []*slot{lstep.slot}
			}
			rest, err := p.process(e.rhs)
			if err != nil {
				return nil, err
			}
			if rest.kind == "path" {
				r.steps = append(r.steps, rest.steps...)
			} else {
				if rest.predicate != nil {
					rest.stages = rest.predicate
					rest.predicate = nil
				}
				r.steps = append(r.steps, rest)
			}
			for _, s := range r.steps {
				switch s.kind {
				case "number", "value":
					return nil, newError("S0213", s.pos, "The literal value %s cannot be used as a step within a path expression", literalText(s))
				case "string":
					s.kind = "name"
				}
				if s.keepArray {
					r.keepSingletonArray = true
				}
			}
			if f := r.steps[0]; f.kind == "unary" && f.value == "[" {
				f.consArray = true
			}
			if l := r.steps[len(r.steps)-1]; l.kind == "unary" && l.value == "[" {
				l.consArray = true
			}
			if err := p.resolveAncestry(r); err != nil {
				return nil, err
			}
		case "[":
			r, err = p.process(e.lhs)
			if err != nil {
				return nil, err
			}
			step := r
			onPath := r.kind == "path"
			if onPath {
				step = r.steps[len(r.steps)-1]
			}
			if step.group != nil {
				return nil, newError("S0209", e.pos, "A predicate cannot follow a grouping expression in a step")
			}
			pred, err := p.process(e.rhs)
			if err != nil {
				return nil, err
			}
			if pred.seekingParent != nil {
				for _, s := range pred.seekingParent {
					if s.level == 1 {
						if _, err := p.seekParent(step, s); err != nil {
							return nil, err
						}
					} else {
						s.level--
					}
				}
				pushAncestry(step, pred)
			}
			st := stage{filter: pred, pos: e.pos}
			if onPath {
				step.stages = append(step.stages, st)
			} else {
				step.predicate = append(step.predicate, st)
			}
		case "{":
			r, err = p.process(e.lhs)
			if err != nil {
				return nil, err
			}
			if r.group != nil {
				return nil, newError("S0210", e.pos, "Each step can only have one grouping expression")
			}
			g := &groupBy{pos: e.pos}
			for _, pair := range e.pairs {
				k, err := p.process(pair[0])
				if err != nil {
					return nil, err
				}
				v, err := p.process(pair[1])
				if err != nil {
					return nil, err
				}
				g.pairs = append(g.pairs, [2]*node{k, v})
			}
			r.group = g
		case "^":
			r, err = p.process(e.lhs)
			if err != nil {
				return nil, err
			}
			if r.kind != "path" {
				r = &node{kind: "path", steps: []*node{r}, pos: e.pos}
			}
			sortStep := &node{kind: "sort", pos: e.pos}
			for _, t := range e.terms {
				x, err := p.process(t.expression)
				if err != nil {
					return nil, err
				}
				pushAncestry(sortStep, x)
				sortStep.terms = append(sortStep.terms, sortTerm{descending: t.descending, expression: x})
			}
			r.steps = append(r.steps, sortStep)
			if err := p.resolveAncestry(r); err != nil {
				return nil, err
			}
		case ":=":
			r = &node{kind: "bind", value: e.value, pos: e.pos}
			if r.lhs, err = p.process(e.lhs); err != nil {
				return nil, err
			}
			if r.rhs, err = p.process(e.rhs); err != nil {
				return nil, err
			}
			pushAncestry(r, r.rhs)
		case "@":
			r, err = p.process(e.lhs)
			if err != nil {
				return nil, err
			}
			step := r
			if r.kind == "path" {
				step = r.steps[len(r.steps)-1]
			}
			if step.stages != nil || step.predicate != nil {
				return nil, newError("S0215", e.pos, "A context variable binding must precede any predicates on a step")
			}
			if step.kind == "sort" {
				return nil, newError("S0216", e.pos, "A context variable binding must precede the 'order-by' clause on a step")
			}
			if e.keepArray {
				step.keepArray = true
			}
			step.focus = e.rhs.value
			step.tuple = true
		case "#":
			r, err = p.process(e.lhs)
			if err != nil {
				return nil, err
			}
			step := r
			if r.kind == "path" {
				step = r.steps[len(r.steps)-1]
			} else {
				r = &node{kind: "path", steps: []*node{r}, pos: e.pos}
				if step.predicate != nil {
					step.stages = step.predicate
					step.predicate = nil
				}
			}
			if step.stages == nil {
				step.index = e.rhs.value
				step.hasIndex = true
			} else {
				step.stages = append(step.stages, stage{index: e.rhs.value, pos: e.pos})
			}
			step.tuple = true
		case "~>":
			r = &node{kind: "apply", value: e.value, pos: e.pos}
			if r.lhs, err = p.process(e.lhs); err != nil {
				return nil, err
			}
			if r.rhs, err = p.process(e.rhs); err != nil {
				return nil, err
			}
			r.keepArray = r.lhs.keepArray || r.rhs.keepArray
		default:
			r = &node{kind: "binary", value: e.value, pos: e.pos}
			if r.lhs, err = p.process(e.lhs); err != nil {
				return nil, err
			}
			if r.rhs, err = p.process(e.rhs); err != nil {
				return nil, err
			}
			pushAncestry(r, r.lhs)
			pushAncestry(r, r.rhs)
		}
	case "unary":
		r = &node{kind: "unary", value: e.value, pos: e.pos}
		switch e.value {
		case "[":
			for _, it := range e.items {
				v, err := p.process(it)
				if err != nil {
					return nil, err
				}
				pushAncestry(r, v)
				r.items = append(r.items, v)
			}
		case "{":
			for _, pair := range e.pairs {
				k, err := p.process(pair[0])
				if err != nil {
					return nil, err
				}
				pushAncestry(r, k)
				v, err := p.process(pair[1])
				if err != nil {
					return nil, err
				}
				pushAncestry(r, v)
				r.pairs = append(r.pairs, [2]*node{k, v})
			}
		default:
			x, err := p.process(e.expression)
			if err != nil {
				return nil, err
			}
			if e.value == "-" && x.kind == "number" {
				x.num = -x.num
				x.lit = x.num
				r = x
			} else {
				r.expression = x
				pushAncestry(r, x)
			}
		}
	case "function", "partial":
		r = &node{kind: e.kind, value: e.value, pos: e.pos}
		for _, a := range e.items {
			x, err := p.process(a)
			if err != nil {
				return nil, err
			}
			pushAncestry(r, x)
			r.items = append(r.items, x)
		}
		if r.procedure, err = p.process(e.procedure); err != nil {
			return nil, err
		}
	case "lambda":
		r = &node{kind: "lambda", params: e.params, signature: e.signature, pos: e.pos}
		if r.body, err = p.process(e.body); err != nil {
			return nil, err
		}
	case "condition":
		r = &node{kind: "condition", pos: e.pos}
		if r.condition, err = p.process(e.condition); err != nil {
			return nil, err
		}
		pushAncestry(r, r.condition)
		if r.then, err = p.process(e.then); err != nil {
			return nil, err
		}
		pushAncestry(r, r.then)
		if e.els != nil {
			if r.els, err = p.process(e.els); err != nil {
				return nil, err
			}
			pushAncestry(r, r.els)
		}
	case "transform":
		r = &node{kind: "transform", pos: e.pos}
		if r.pattern, err = p.process(e.pattern); err != nil {
			return nil, err
		}
		if r.update, err = p.process(e.update); err != nil {
			return nil, err
		}
		if e.delete != nil {
			if r.delete, err = p.process(e.delete); err != nil {
				return nil, err
			}
		}
	case "block":
		r = &node{kind: "block", pos: e.pos}
		for _, it := range e.items {
			x, err := p.process(it)
			if err != nil {
				return nil, err
			}
			pushAncestry(r, x)
			if x.consArray || (x.kind == "path" && x.steps[0].consArray) {
				r.consArray = true
			}
			r.items = append(r.items, x)
		}
	case "name":
		r = &node{kind: "path", steps: []*node{e}, pos: e.pos}
		if e.keepArray {
			r.keepSingletonArray = true
		}
	case "parent":
		r = &node{kind: "parent", pos: e.pos, slot: &slot{label: fmt.Sprintf("!%d", p.labels), level: 1, index: len(p.ancestry)}}
		p.labels++
		p.ancestry = append(p.ancestry, r)
	case "string", "number", "value", "wildcard", "descendant", "variable", "regex":
		r = e
	case "operator":
		if e.value == "?" {
			r = e
		} else {
			return nil, newError("S0201", e.pos, "Syntax error: %q", e.value)
		}
	case "end":
		return nil, newError("S0207", e.pos, "Unexpected end of expression")
	default:
		return nil, newError("S0206", e.pos, "Unknown expression type: %s", e.kind)
	}
	if e.keepArray {
		r.keepArray = true
	}
	return r, nil
}

func literalText(n *node) string {
	if n.kind == "number" {
		return formatNumber(n.num)
	}
	return n.value
}

func (p *parser) seekParent(n *node, s *slot) (*slot, error) {
	switch n.kind {
	case "name", "wildcard":
		s.level--
		if s.level == 0 {
			if n.ancestor == nil {
				n.ancestor = s
			} else {
				p.ancestry[s.index].slot.label = n.ancestor.label
				n.ancestor = s
			}
			n.tuple = true
		}
	case "parent":
		s.level++
	case "block":
		if len(n.items) > 0 {
			n.tuple = true
			return p.seekParent(n.items[len(n.items)-1], s)
		}
	case "path":
		n.tuple = true
		i := len(n.steps) - 1
		var err error
		s, err = p.seekParent(n.steps[i], s)
		if err != nil {
			return nil, err
		}
		i--
		for s.level > 0 && i >= 0 {
			if s, err = p.seekParent(n.steps[i], s); err != nil {
				return nil, err
			}
			i--
		}
	default:
		return nil, newError("S0217", n.pos, "The object representing the 'parent' cannot be derived from this expression")
	}
	return s, nil
}

func pushAncestry(r, v *node) {
	if v.seekingParent == nil && v.kind != "parent" {
		return
	}
	slots := append([]*slot(nil), v.seekingParent...)
	if v.kind == "parent" {
		slots = append(slots, v.slot)
	}
	r.seekingParent = append(r.seekingParent, slots...)
}

func (p *parser) resolveAncestry(path *node) error {
	last := path.steps[len(path.steps)-1]
	slots := append([]*slot(nil), last.seekingParent...)
	if last.kind == "parent" {
		slots = append(slots, last.slot)
	}
	for _, s := range slots {
		i := len(path.steps) - 2
		for s.level > 0 {
			if i < 0 {
				path.seekingParent = append(path.seekingParent, s)
				break
			}
			step := path.steps[i]
			i--
			for i >= 0 && step.focus != "" && path.steps[i].focus != "" {
				step = path.steps[i]
				i--
			}
			var err error
			if s, err = p.seekParent(step, s); err != nil {
				return err
			}
		}
	}
	return nil
}
