package jsonata

import (
	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

// callable is a function value: a lambda, a built-in, a partial
// application, a transform or a chain made with ~>.
type callable interface {
	invoke(ev *evaluator, args []any, input any, pos int) (any, error)
	arity() int
	sig() *signature
	name() string
}

type lambda struct {
	node  *node
	input any
	env   *frame
}

func (l *lambda) arity() int {
	if l.node.signature != nil {
		return len(l.node.signature.params)
	}
	return len(l.node.params)
}
func (l *lambda) sig() *signature { return l.node.signature }
func (l *lambda) name() string    { return "" }
func (l *lambda) invoke(ev *evaluator, args []any, _ any, _ int) (any, error) {
	f := newFrame(l.env)
	for i, p := range l.node.params {
		f.bind(p.value, argAt(args, i))
	}
	return ev.eval(l.node.body, l.input, f)
}

type builtin struct {
	fname     string
	signature *signature
	fn        func(ev *evaluator, args []any, input any, pos int) (any, error)
}

// arity is what JavaScript's Function#length gives for the reference's
// implementation: the parameters before the first optional one.
func (b *builtin) arity() int {
	n := 0
	for _, p := range b.signature.params {
		if p.optional {
			break
		}
		n++
	}
	return n
}
func (b *builtin) sig() *signature { return b.signature }
func (b *builtin) name() string    { return b.fname }
func (b *builtin) invoke(ev *evaluator, args []any, input any, pos int) (any, error) {
	return b.fn(ev, args, input, pos)
}

// native is a Go closure used as a function value: a partial application
// or the composition f ~> g.
type native struct {
	n  int
	fn func(ev *evaluator, args []any, input any, pos int) (any, error)
}

func (f *native) arity() int      { return f.n }
func (f *native) sig() *signature { return nil }
func (f *native) name() string    { return "" }
func (f *native) invoke(ev *evaluator, args []any, input any, pos int) (any, error) {
	return f.fn(ev, args, input, pos)
}

// apply validates the arguments against the function's signature and calls it.
func (ev *evaluator) apply(fn any, args []any, input any, pos int) (any, error) {
	ev.depth++
	defer func() { ev.depth-- }()
	if ev.depth > ev.limits.MaxDepth {
		return nil, limitError(pos, "MaxDepth", ev.limits.MaxDepth, "evaluation depth")
	}
	switch f := fn.(type) {
	case callable:
		if s := f.sig(); s != nil {
			var err error
			if args, err = s.validate(args, input, f.name(), pos); err != nil {
				return nil, err
			}
		}
		return f.invoke(ev, args, input, pos)
	case *regexValue:
		s, ok := argAt(args, 0).(string)
		if !ok {
			return Undefined, nil
		}
		return regexMatchObject(f, s, 0), nil
	}
	return nil, newError("T1006", pos, "Attempted to invoke a non-function")
}

func regexMatchObject(r *regexValue, s string, from int) any {
	loc := r.re.FindStringSubmatchIndex(s[from:])
	if loc == nil {
		return Undefined
	}
	o := jsonvalue.NewObject(4)
	o.Set("match", s[from+loc[0]:from+loc[1]])
	o.Set("start", float64(utf16Len(s[:from+loc[0]])))
	o.Set("end", float64(utf16Len(s[:from+loc[1]])))
	groups := []any{}
	for g := 2; g < len(loc); g += 2 {
		if loc[g] < 0 {
			groups = append(groups, "")
		} else {
			groups = append(groups, s[from+loc[g]:from+loc[g+1]])
		}
	}
	o.Set("groups", groups)
	next := from + loc[1]
	if loc[1] == loc[0] {
		next++
	}
	o.Set("next", &native{n: 0, fn: func(ev *evaluator, _ []any, _ any, _ int) (any, error) {
		if next > len(s) {
			return Undefined, nil
		}
		return regexMatchObject(r, s, next), nil
	}})
	return o
}

func (ev *evaluator) call(n *node, input any, env *frame, first any, hasFirst bool) (any, error) {
	proc, err := ev.eval(n.procedure, input, env)
	if err != nil {
		return nil, err
	}
	if isUndef(proc) && n.procedure.kind == "path" && len(n.procedure.steps) > 0 && !isUndef(env.lookup(n.procedure.steps[0].value)) {
		return nil, newError("T1005", n.pos, "Attempted to invoke a non-function. Did you mean '$%s'?", n.procedure.steps[0].value)
	}
	var args []any
	if hasFirst {
		args = append(args, first)
	}
	for _, a := range n.items {
		v, err := ev.eval(a, input, env)
		if err != nil {
			return nil, err
		}
		args = append(args, v)
	}
	return ev.apply(proc, args, input, n.pos)
}

func (ev *evaluator) partial(n *node, input any, env *frame) (any, error) {
	proc, err := ev.eval(n.procedure, input, env)
	if err != nil {
		return nil, err
	}
	var args []any
	var holes []int
	for i, a := range n.items {
		if a.kind == "operator" && a.value == "?" {
			args = append(args, Undefined)
			holes = append(holes, i)
			continue
		}
		v, err := ev.eval(a, input, env)
		if err != nil {
			return nil, err
		}
		args = append(args, v)
	}
	if !isFunc(proc) {
		if isUndef(proc) && n.procedure.kind == "path" && len(n.procedure.steps) > 0 && !isUndef(env.lookup(n.procedure.steps[0].value)) {
			return nil, newError("T1007", n.pos, "Attempted to partially apply a non-function. Did you mean '$%s'?", n.procedure.steps[0].value)
		}
		return nil, newError("T1008", n.pos, "Attempted to partially apply a non-function")
	}
	return &native{n: len(holes), fn: func(ev *evaluator, given []any, in any, pos int) (any, error) {
		full := append([]any(nil), args...)
		for i, h := range holes {
			full[h] = argAt(given, i)
		}
		return ev.apply(proc, full, input, pos)
	}}, nil
}

// applyChain is ~>: the left value becomes the first argument of the right
// function, or two functions compose.
func (ev *evaluator) applyChain(n *node, input any, env *frame) (any, error) {
	lhs, err := ev.eval(n.lhs, input, env)
	if err != nil {
		return nil, err
	}
	if n.rhs.kind == "function" {
		return ev.call(n.rhs, input, env, lhs, true)
	}
	fn, err := ev.eval(n.rhs, input, env)
	if err != nil {
		return nil, err
	}
	if !isFunc(fn) {
		return nil, newError("T2006", n.pos, "The right side of the function application operator ~> must be a function")
	}
	if isFunc(lhs) {
		f1 := lhs
		return &native{n: 1, fn: func(ev *evaluator, args []any, in any, pos int) (any, error) {
			r, err := ev.apply(f1, args, in, pos)
			if err != nil {
				return nil, err
			}
			return ev.apply(fn, []any{r}, in, pos)
		}}, nil
	}
	return ev.apply(fn, []any{lhs}, input, n.pos)
}

// transformer is |pattern|update,delete|: a function that copies its
// argument and changes the copy.
type transformer struct {
	node *node
	env  *frame
	ev   *evaluator
}

func (t *transformer) arity() int      { return 1 }
func (t *transformer) sig() *signature { return nil }
func (t *transformer) name() string    { return "" }
func (t *transformer) invoke(ev *evaluator, args []any, _ any, pos int) (any, error) {
	obj := argAt(args, 0)
	if isUndef(obj) {
		return Undefined, nil
	}
	result := deepClone(obj)
	matches, err := ev.eval(t.node.pattern, result, t.env)
	if err != nil {
		return nil, err
	}
	if isUndef(matches) {
		return result, nil
	}
	items, ok := arr(matches)
	if !ok {
		items = []any{matches}
	}
	for _, m := range items {
		o, isObj := m.(*jsonvalue.Object)
		upd, err := ev.eval(t.node.update, m, t.env)
		if err != nil {
			return nil, err
		}
		if !isUndef(upd) {
			uo, ok := upd.(*jsonvalue.Object)
			if !ok {
				return nil, newError("T2011", t.node.update.pos, "The insert/update clause of the transform expression must evaluate to an object: %s", display(upd))
			}
			if isObj {
				for _, um := range uo.Members() {
					o.Set(um.Key, um.Value)
				}
			}
		}
		if t.node.delete != nil {
			del, err := ev.eval(t.node.delete, m, t.env)
			if err != nil {
				return nil, err
			}
			if !isUndef(del) {
				keys, ok := arr(del)
				if !ok {
					keys = []any{del}
				}
				for _, k := range keys {
					ks, ok := k.(string)
					if !ok {
						return nil, newError("T2012", t.node.delete.pos, "The delete clause of the transform expression must evaluate to a string or array of strings: %s", display(del))
					}
					if isObj {
						o.Delete(ks)
					}
				}
			}
		}
	}
	return result, nil
}

func deepClone(v any) any {
	switch x := v.(type) {
	case *jsonvalue.Object:
		o := jsonvalue.NewObject(x.Len())
		for _, m := range x.Members() {
			o.Set(m.Key, deepClone(m.Value))
		}
		return o
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = deepClone(x[i])
		}
		return out
	case consArray:
		return deepClone([]any(x))
	case *sequence:
		return deepClone(x.items)
	}
	return v
}
