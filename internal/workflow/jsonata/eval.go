package jsonata

import (
	"context"
	"math"
	mrand "math/rand/v2"
	"sort"
	"strings"

	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

type frame struct {
	vars   map[string]any
	parent *frame
}

func newFrame(parent *frame) *frame { return &frame{vars: map[string]any{}, parent: parent} }

func (f *frame) lookup(name string) any {
	for ; f != nil; f = f.parent {
		if v, ok := f.vars[name]; ok {
			return v
		}
	}
	return Undefined
}

func (f *frame) bind(name string, v any) { f.vars[name] = v }

func frameFromTuple(env *frame, t tuple) *frame {
	f := newFrame(env)
	for k, v := range t {
		f.vars[k] = v
	}
	return f
}

// evaluator holds one evaluation's state: its limits and what it has used.
type evaluator struct {
	ctx    context.Context
	limits Limits
	depth  int
	steps  int
	now    float64
	rng    *mrand.Rand
}

func (ev *evaluator) eval(n *node, input any, env *frame) (any, error) {
	ev.steps++
	if ev.steps&1023 == 0 {
		if err := ev.ctx.Err(); err != nil {
			return nil, limitError(n.pos, "context", err, "evaluation")
		}
	}
	if ev.limits.MaxSteps > 0 && ev.steps > ev.limits.MaxSteps {
		return nil, limitError(n.pos, "MaxSteps", ev.limits.MaxSteps, "evaluation")
	}
	ev.depth++
	defer func() { ev.depth-- }()
	if ev.depth > ev.limits.MaxDepth {
		return nil, limitError(n.pos, "MaxDepth", ev.limits.MaxDepth, "evaluation depth")
	}
	var r any
	var err error
	switch n.kind {
	case "path":
		r, err = ev.path(n, input, env)
	case "binary":
		r, err = ev.binary(n, input, env)
	case "unary":
		r, err = ev.unary(n, input, env)
	case "name":
		r = lookupField(input, n.value)
	case "string", "number", "value":
		r = n.lit
	case "wildcard":
		r = wildcard(input)
	case "descendant":
		r = descendants(input)
	case "parent":
		r = env.lookup(n.slot.label)
	case "condition":
		c, err := ev.eval(n.condition, input, env)
		if err != nil {
			return nil, err
		}
		if truthy(c) {
			r, err = ev.eval(n.then, input, env)
		} else if n.els != nil {
			r, err = ev.eval(n.els, input, env)
		} else {
			r = Undefined
		}
		if err != nil {
			return nil, err
		}
	case "block":
		f := newFrame(env)
		r = Undefined
		for _, it := range n.items {
			if r, err = ev.eval(it, input, f); err != nil {
				return nil, err
			}
		}
	case "bind":
		if r, err = ev.eval(n.rhs, input, env); err != nil {
			return nil, err
		}
		env.bind(n.lhs.value, r)
	case "regex":
		r = n.regex
	case "variable":
		if n.value == "" {
			if s, ok := input.(*sequence); ok && s.outerWrapper && len(s.items) > 0 {
				r = s.items[0]
			} else {
				r = input
			}
		} else {
			r = env.lookup(n.value)
		}
	case "lambda":
		r = &lambda{node: n, input: input, env: env}
	case "function":
		r, err = ev.call(n, input, env, Undefined, false)
	case "partial":
		r, err = ev.partial(n, input, env)
	case "apply":
		r, err = ev.applyChain(n, input, env)
	case "transform":
		r = &transformer{node: n, env: env, ev: ev}
	case "sort":
		r, err = ev.sortStep(n, input, env)
	default:
		return nil, newError("S0206", n.pos, "Unknown expression type: %s", n.kind)
	}
	if err != nil {
		return nil, err
	}
	for _, st := range n.predicate {
		if r, err = ev.filter(st.filter, r, env); err != nil {
			return nil, err
		}
	}
	if n.kind != "path" && n.group != nil {
		if r, err = ev.group(n.group, r, env); err != nil {
			return nil, err
		}
	}
	if s, ok := r.(*sequence); ok && !s.tupleStream {
		if n.keepArray {
			s.keepSingleton = true
		}
		switch {
		case len(s.items) == 0:
			r = Undefined
		case len(s.items) == 1 && !s.keepSingleton:
			r = s.items[0]
		}
	}
	return r, nil
}

func truthy(v any) bool {
	b := toBoolean(v)
	return b != nil && *b
}

// toBoolean is $boolean: nil for undefined.
func toBoolean(v any) *bool {
	t, f := true, false
	switch x := v.(type) {
	case undefinedType:
		return nil
	case bool:
		if x {
			return &t
		}
		return &f
	case string:
		if x != "" {
			return &t
		}
		return &f
	case nil:
		return &f
	case *jsonvalue.Object:
		if x.Len() > 0 {
			return &t
		}
		return &f
	case tuple:
		return &t
	case callable, *regexValue:
		return &f
	}
	if n, ok := num(v); ok {
		if n != 0 {
			return &t
		}
		return &f
	}
	if items, ok := arr(v); ok {
		if len(items) == 1 {
			return toBoolean(items[0])
		}
		for _, it := range items {
			if truthy(it) {
				return &t
			}
		}
		return &f
	}
	return &f
}

func lookupField(input any, key string) any {
	if items, ok := arr(input); ok {
		res := newSeq()
		for _, it := range items {
			v := lookupField(it, key)
			if isUndef(v) {
				continue
			}
			if sub, ok := arr(v); ok {
				res.items = append(res.items, sub...)
			} else {
				res.items = append(res.items, v)
			}
		}
		return res
	}
	switch o := input.(type) {
	case *jsonvalue.Object:
		if v, ok := o.Get(key); ok {
			return v
		}
	case tuple:
		if v, ok := o[key]; ok {
			return v
		}
	}
	return Undefined
}

func wildcard(input any) any {
	res := newSeq()
	if s, ok := input.(*sequence); ok && s.outerWrapper && len(s.items) > 0 {
		input = s.items[0]
	}
	if o, ok := input.(*jsonvalue.Object); ok {
		for _, m := range o.Members() {
			if _, isArr := arr(m.Value); isArr {
				res.items = flatten(m.Value, res.items)
			} else {
				res.items = append(res.items, m.Value)
			}
		}
	}
	return res
}

func flatten(v any, out []any) []any {
	if items, ok := arr(v); ok {
		for _, it := range items {
			out = flatten(it, out)
		}
		return out
	}
	return append(out, v)
}

func descendants(input any) any {
	if isUndef(input) {
		return Undefined
	}
	res := newSeq()
	var rec func(v any)
	rec = func(v any) {
		items, isArr := arr(v)
		if !isArr {
			res.items = append(res.items, v)
		}
		if isArr {
			for _, it := range items {
				rec(it)
			}
		} else if o, ok := v.(*jsonvalue.Object); ok {
			for _, m := range o.Members() {
				rec(m.Value)
			}
		}
	}
	rec(input)
	if len(res.items) == 1 {
		return res.items[0]
	}
	return res
}

func (ev *evaluator) path(n *node, input any, env *frame) (any, error) {
	var inSeq []any
	if items, ok := arr(input); ok && n.steps[0].kind != "variable" {
		inSeq = items
	} else {
		inSeq = []any{input}
	}
	var result any = Undefined
	tupleMode := false
	var tuples []tuple
	for i, step := range n.steps {
		if step.tuple {
			tupleMode = true
		}
		var err error
		switch {
		case i == 0 && step.consArray:
			result, err = ev.eval(step, &sequence{items: inSeq}, env)
		case tupleMode:
			tuples, err = ev.tupleStep(step, inSeq, tuples, env)
		default:
			result, err = ev.step(step, inSeq, env, i == len(n.steps)-1)
		}
		if err != nil {
			return nil, err
		}
		if !tupleMode {
			items, isArr := arr(result)
			if isUndef(result) || (isArr && len(items) == 0) {
				break
			}
		}
		if step.focus == "" {
			if items, ok := arr(result); ok {
				inSeq = items
			} else if i == 0 && step.consArray {
				// The reference loops over the length of a non-array,
				// which is none: [..]{k: v}.k is undefined.
				inSeq = nil
			} else {
				inSeq = []any{result}
			}
		}
	}
	if tupleMode {
		if n.tuple {
			s := &sequence{tupleStream: true}
			for _, t := range tuples {
				s.items = append(s.items, t)
			}
			result = s
		} else {
			s := newSeq()
			for _, t := range tuples {
				s.items = append(s.items, t["@"])
			}
			result = s
		}
	}
	if n.keepSingletonArray {
		switch r := result.(type) {
		case consArray:
			result = &sequence{items: r}
		case []any:
			result = &sequence{items: r}
		case *sequence:
		default:
			if !isUndef(r) {
				result = &sequence{items: []any{r}}
			}
		}
		if s, ok := result.(*sequence); ok {
			s.keepSingleton = true
		}
	}
	if n.group != nil {
		var in any = result
		if tupleMode {
			s := &sequence{tupleStream: true}
			for _, t := range tuples {
				s.items = append(s.items, t)
			}
			in = s
		}
		return ev.group(n.group, in, env)
	}
	return result, nil
}

func (ev *evaluator) step(n *node, input []any, env *frame, last bool) (any, error) {
	if n.kind == "sort" {
		r, err := ev.sortStep(n, &sequence{items: input}, env)
		if err != nil {
			return nil, err
		}
		return ev.stages(n.stages, r, env)
	}
	var results []any
	for _, it := range input {
		r, err := ev.eval(n, it, env)
		if err != nil {
			return nil, err
		}
		for _, st := range n.stages {
			if r, err = ev.filter(st.filter, r, env); err != nil {
				return nil, err
			}
		}
		if !isUndef(r) {
			results = append(results, r)
		}
	}
	if last && len(results) == 1 {
		if a, ok := results[0].([]any); ok {
			return a, nil
		}
		if a, ok := results[0].(consArray); ok {
			return a, nil
		}
	}
	out := newSeq()
	for _, r := range results {
		switch a := r.(type) {
		case consArray:
			out.items = append(out.items, a)
		case []any:
			out.items = append(out.items, a...)
		case *sequence:
			out.items = append(out.items, a.items...)
		default:
			out.items = append(out.items, r)
		}
	}
	if err := ev.checkLen(n.pos, len(out.items)); err != nil {
		return nil, err
	}
	return out, nil
}

func (ev *evaluator) stages(stages []stage, input any, env *frame) (any, error) {
	var err error
	for _, st := range stages {
		if st.filter != nil {
			if input, err = ev.filter(st.filter, input, env); err != nil {
				return nil, err
			}
		} else if s, ok := input.(*sequence); ok {
			for i, it := range s.items {
				if t, ok := it.(tuple); ok {
					t[st.index] = float64(i)
				}
			}
		}
	}
	return input, nil
}

func (ev *evaluator) tupleStep(n *node, input []any, tuples []tuple, env *frame) ([]tuple, error) {
	if n.kind == "sort" {
		var out []tuple
		if tuples != nil {
			s := &sequence{tupleStream: true}
			for _, t := range tuples {
				s.items = append(s.items, t)
			}
			r, err := ev.sortStep(n, s, env)
			if err != nil {
				return nil, err
			}
			rs, _ := arr(r)
			for _, t := range rs {
				out = append(out, t.(tuple))
			}
		} else {
			r, err := ev.sortStep(n, &sequence{items: input}, env)
			if err != nil {
				return nil, err
			}
			rs, _ := arr(r)
			for i, v := range rs {
				t := tuple{"@": v}
				if n.hasIndex {
					t[n.index] = float64(i)
				}
				out = append(out, t)
			}
		}
		return ev.tupleStages(n.stages, out, env)
	}
	if tuples == nil {
		for _, it := range input {
			tuples = append(tuples, tuple{"@": it})
		}
	}
	out := []tuple{} // empty, not nil: nil means "no tuple step yet"
	for _, tb := range tuples {
		stepEnv := frameFromTuple(env, tb)
		r, err := ev.eval(n, tb["@"], stepEnv)
		if err != nil {
			return nil, err
		}
		if isUndef(r) {
			continue
		}
		items, ok := arr(r)
		if !ok {
			items = []any{r}
		}
		rs, isTS := r.(*sequence)
		isTS = isTS && rs.tupleStream
		for bb, item := range items {
			t := tuple{}
			for k, v := range tb {
				t[k] = v
			}
			if isTS {
				for k, v := range item.(tuple) {
					t[k] = v
				}
			} else {
				if n.focus != "" {
					t[n.focus] = item
					t["@"] = tb["@"]
				} else {
					t["@"] = item
				}
				if n.hasIndex {
					t[n.index] = float64(bb)
				}
				if n.ancestor != nil {
					t[n.ancestor.label] = tb["@"]
				}
			}
			out = append(out, t)
		}
	}
	if err := ev.checkLen(n.pos, len(out)); err != nil {
		return nil, err
	}
	return ev.tupleStages(n.stages, out, env)
}

func (ev *evaluator) tupleStages(stages []stage, ts []tuple, env *frame) ([]tuple, error) {
	if len(stages) == 0 {
		return ts, nil
	}
	s := &sequence{tupleStream: true}
	for _, t := range ts {
		s.items = append(s.items, t)
	}
	r, err := ev.stages(stages, s, env)
	if err != nil {
		return nil, err
	}
	items, _ := arr(r)
	out := make([]tuple, 0, len(items))
	for _, it := range items {
		out = append(out, it.(tuple))
	}
	return out, nil
}

func (ev *evaluator) filter(pred *node, input any, env *frame) (any, error) {
	res := newSeq()
	ts := false
	if s, ok := input.(*sequence); ok && s.tupleStream {
		ts = true
		res.tupleStream = true
	}
	items, ok := arr(input)
	if !ok {
		items = []any{input}
		if isUndef(input) {
			items = []any{Undefined}
		}
	}
	if pred.kind == "number" {
		i := int(math.Floor(pred.num))
		if i < 0 {
			i += len(items)
		}
		if i >= 0 && i < len(items) && !isUndef(items[i]) {
			if a, ok := items[i].([]any); ok {
				return a, nil
			}
			res.items = append(res.items, items[i])
		}
		return res, nil
	}
	for idx, it := range items {
		ctxv, e := it, env
		if ts {
			t := it.(tuple)
			ctxv = t["@"]
			e = frameFromTuple(env, t)
		}
		r, err := ev.eval(pred, ctxv, e)
		if err != nil {
			return nil, err
		}
		if n, ok := num(r); ok {
			r = []any{n}
		}
		if nums, ok := numberArray(r); ok {
			for _, n := range nums {
				i := int(math.Floor(n))
				if i < 0 {
					i += len(items)
				}
				if i == idx {
					res.items = append(res.items, it)
				}
			}
		} else if truthy(r) {
			res.items = append(res.items, it)
		}
	}
	return res, nil
}

func numberArray(v any) ([]float64, bool) {
	items, ok := arr(v)
	if !ok || len(items) == 0 {
		return nil, false
	}
	out := make([]float64, len(items))
	for i, it := range items {
		n, ok := num(it)
		if !ok {
			return nil, false
		}
		out[i] = n
	}
	return out, true
}

func (ev *evaluator) group(g *groupBy, input any, env *frame) (any, error) {
	type entry struct {
		data      any
		exprIndex int
	}
	s, _ := input.(*sequence)
	reduce := s != nil && s.tupleStream
	items, ok := arr(input)
	if !ok {
		items = []any{input}
	}
	if len(items) == 0 {
		items = []any{Undefined}
	}
	groups := map[string]*entry{}
	var order []string
	for _, it := range items {
		e, ctxv := env, it
		// An empty tuple stream is grouped as one undefined item, which
		// binds nothing ("A#$i{}" on {} is {}).
		if t, ok := it.(tuple); reduce && ok {
			e = frameFromTuple(env, t)
			ctxv = t["@"]
		}
		for pi, pair := range g.pairs {
			k, err := ev.eval(pair[0], ctxv, e)
			if err != nil {
				return nil, err
			}
			if isUndef(k) {
				continue
			}
			key, ok := k.(string)
			if !ok {
				return nil, newError("T1003", g.pos, "Key in object structure must evaluate to a string; got: %s", display(k))
			}
			if ge, ok := groups[key]; ok {
				if ge.exprIndex != pi {
					return nil, newError("D1009", g.pos, "Multiple key definitions evaluate to same key: %q", key)
				}
				ge.data = appendValues(ge.data, it)
			} else {
				groups[key] = &entry{data: it, exprIndex: pi}
				order = append(order, key)
			}
		}
	}
	out := jsonvalue.NewObject(len(order))
	for _, key := range jsOrder(order) {
		ge := groups[key]
		ctxv, e := ge.data, env
		if reduce {
			t := reduceTuples(ge.data)
			ctxv = t["@"]
			delete(t, "@")
			e = frameFromTuple(env, t)
		}
		v, err := ev.eval(g.pairs[ge.exprIndex][1], ctxv, e)
		if err != nil {
			return nil, err
		}
		if !isUndef(v) {
			out.Set(key, v)
		}
	}
	return out, nil
}

// jsOrder lists keys in the order a JavaScript object enumerates them:
// array-index-like keys first, ascending, then the others as inserted.
func jsOrder(keys []string) []string {
	var idx, rest []string
	for _, k := range keys {
		if isArrayIndex(k) {
			idx = append(idx, k)
		} else {
			rest = append(rest, k)
		}
	}
	if len(idx) == 0 {
		return keys
	}
	sort.SliceStable(idx, func(i, j int) bool {
		if len(idx[i]) != len(idx[j]) {
			return len(idx[i]) < len(idx[j])
		}
		return idx[i] < idx[j]
	})
	return append(idx, rest...)
}

func isArrayIndex(k string) bool {
	if k == "" || len(k) > 10 || (len(k) > 1 && k[0] == '0') {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < '0' || k[i] > '9' {
			return false
		}
	}
	return len(k) < 10 || k < "4294967295"
}

// reduceTuples merges the tuples of a group into one whose values are
// sequences. A group of an empty tuple stream holds only undefined
// ("A#$i{'k': 0}" on {}): it reduces to the empty tuple, binding nothing.
func reduceTuples(v any) tuple {
	items, ok := arr(v)
	if !ok {
		t := tuple{}
		if vt, ok := v.(tuple); ok {
			for k, x := range vt {
				t[k] = x
			}
		}
		return t
	}
	t := tuple{}
	if len(items) == 0 {
		return t
	}
	first, _ := items[0].(tuple)
	for k, x := range first {
		t[k] = x
	}
	for _, it := range items[1:] {
		next, _ := it.(tuple)
		for k, x := range next {
			if old, ok := t[k]; ok {
				t[k] = appendValues(old, x)
			} else {
				t[k] = appendValues(Undefined, x)
			}
		}
	}
	return t
}

// appendValues is $append: undefined is ignored, single values become
// one-item arrays.
func appendValues(a, b any) any {
	if isUndef(a) {
		return b
	}
	if isUndef(b) {
		return a
	}
	out := []any{}
	if items, ok := arr(a); ok {
		out = append(out, items...)
	} else {
		out = append(out, a)
	}
	if items, ok := arr(b); ok {
		out = append(out, items...)
	} else {
		out = append(out, b)
	}
	if _, ok := a.(*sequence); ok {
		return &sequence{items: out}
	}
	return out
}

func (ev *evaluator) checkLen(pos, n int) error {
	if n > ev.limits.MaxArrayLength {
		return limitError(pos, "MaxArrayLength", ev.limits.MaxArrayLength, "sequence length")
	}
	return nil
}

func (ev *evaluator) unary(n *node, input any, env *frame) (any, error) {
	switch n.value {
	case "-":
		v, err := ev.eval(n.expression, input, env)
		if err != nil {
			return nil, err
		}
		if isUndef(v) {
			return Undefined, nil
		}
		f, ok := num(v)
		if !ok {
			return nil, newError("D1002", n.pos, "Cannot negate a non-numeric value: %s", display(v))
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, newError("D1001", n.pos, "Number out of range: null")
		}
		return -f, nil
	case "[":
		out := []any{}
		for _, it := range n.items {
			v, err := ev.eval(it, input, env)
			if err != nil {
				return nil, err
			}
			if isUndef(v) {
				continue
			}
			if it.kind == "unary" && it.value == "[" {
				out = append(out, v)
			} else if items, ok := arr(v); ok {
				out = append(out, items...)
			} else {
				out = append(out, v)
			}
			if err := ev.checkLen(n.pos, len(out)); err != nil {
				return nil, err
			}
		}
		if n.consArray {
			return consArray(out), nil
		}
		return out, nil
	case "{":
		return ev.group(&groupBy{pairs: n.pairs, pos: n.pos}, input, env)
	}
	return nil, newError("S0206", n.pos, "Unknown unary operator %s", n.value)
}

func (ev *evaluator) binary(n *node, input any, env *frame) (any, error) {
	lhs, err := ev.eval(n.lhs, input, env)
	if err != nil {
		return nil, err
	}
	op := n.value
	if op == "and" || op == "or" {
		l := truthy(lhs)
		if op == "and" && !l {
			return false, nil
		}
		if op == "or" && l {
			return true, nil
		}
		rhs, err := ev.eval(n.rhs, input, env)
		if err != nil {
			return nil, err
		}
		return truthy(rhs), nil
	}
	rhs, err := ev.eval(n.rhs, input, env)
	if err != nil {
		return nil, err
	}
	switch op {
	case "+", "-", "*", "/", "%":
		return arith(op, lhs, rhs, n.pos)
	case "=", "!=":
		if isUndef(lhs) || isUndef(rhs) {
			return false, nil
		}
		eq := deepEqual(lhs, rhs)
		if op == "!=" {
			return !eq, nil
		}
		return eq, nil
	case "<", "<=", ">", ">=":
		return compare(op, lhs, rhs, n.pos)
	case "&":
		ls, err := ev.stringOf(lhs, n.pos)
		if err != nil {
			return nil, err
		}
		rs, err := ev.stringOf(rhs, n.pos)
		if err != nil {
			return nil, err
		}
		if len(ls)+len(rs) > ev.limits.MaxStringLength {
			return nil, limitError(n.pos, "MaxStringLength", ev.limits.MaxStringLength, "string length")
		}
		return ls + rs, nil
	case "..":
		return ev.rangeOf(lhs, rhs, n.pos)
	case "in":
		if isUndef(lhs) || isUndef(rhs) {
			return false, nil
		}
		items, ok := arr(rhs)
		if !ok {
			items = []any{rhs}
		}
		for _, it := range items {
			if strictEqual(it, lhs) {
				return true, nil
			}
		}
		return false, nil
	}
	return nil, newError("S0206", n.pos, "Unknown operator %s", op)
}

func (ev *evaluator) stringOf(v any, pos int) (string, error) {
	if isUndef(v) {
		return "", nil
	}
	return stringify(v, false, pos)
}

func strictEqual(a, b any) bool {
	if x, ok := num(a); ok {
		y, ok := num(b)
		return ok && x == y
	}
	switch x := a.(type) {
	case string, bool, nil:
		return a == b
	case *jsonvalue.Object:
		y, ok := b.(*jsonvalue.Object)
		return ok && x == y
	}
	return false
}

func arith(op string, lhs, rhs any, pos int) (any, error) {
	l, lok := num(lhs)
	r, rok := num(rhs)
	if !isUndef(lhs) && !lok {
		return nil, newError("T2001", pos, "The left side of the %q operator must evaluate to a number", op)
	}
	if !isUndef(rhs) && !rok {
		return nil, newError("T2002", pos, "The right side of the %q operator must evaluate to a number", op)
	}
	if !lok || !rok {
		return Undefined, nil
	}
	if math.IsInf(l, 0) || math.IsInf(r, 0) || math.IsNaN(l) || math.IsNaN(r) {
		return nil, newError("D1001", pos, "Number out of range: null")
	}
	var v float64
	switch op {
	case "+":
		v = l + r
	case "-":
		v = l - r
	case "*":
		v = l * r
	case "/":
		v = l / r
	case "%":
		v = math.Mod(l, r)
	}
	return v, nil
}

func compare(op string, lhs, rhs any, pos int) (any, error) {
	comparable := func(v any) bool {
		if _, ok := num(v); ok {
			return true
		}
		switch v.(type) {
		case undefinedType, string:
			return true
		}
		return false
	}
	if !comparable(lhs) || !comparable(rhs) {
		return nil, newError("T2010", pos, "The expressions either side of operator %q must evaluate to numeric or string values", op)
	}
	if isUndef(lhs) || isUndef(rhs) {
		return Undefined, nil
	}
	var c int
	if l, ok := num(lhs); ok {
		r, ok := num(rhs)
		if !ok {
			return nil, newError("T2009", pos, "The values %s and %s either side of operator %q must be of the same data type", display(lhs), display(rhs), op)
		}
		c = cmpFloat(l, r)
	} else {
		l := lhs.(string)
		r, ok := rhs.(string)
		if !ok {
			return nil, newError("T2009", pos, "The values %s and %s either side of operator %q must be of the same data type", display(lhs), display(rhs), op)
		}
		c = compareUTF16(l, r)
	}
	switch op {
	case "<":
		return c < 0, nil
	case "<=":
		return c <= 0, nil
	case ">":
		return c > 0, nil
	}
	return c >= 0, nil
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// compareUTF16 orders strings as JavaScript does, by UTF-16 code units.
func compareUTF16(a, b string) int {
	if isASCII(a) && isASCII(b) {
		return strings.Compare(a, b)
	}
	ua, ub := utf16Of(a), utf16Of(b)
	for i := 0; i < len(ua) && i < len(ub); i++ {
		if ua[i] != ub[i] {
			if ua[i] < ub[i] {
				return -1
			}
			return 1
		}
	}
	return len(ua) - len(ub)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func deepEqual(a, b any) bool {
	if x, ok := num(a); ok {
		y, ok := num(b)
		return ok && x == y
	}
	if ai, ok := arr(a); ok {
		bi, ok := arr(b)
		if !ok || len(ai) != len(bi) {
			return false
		}
		for i := range ai {
			if !deepEqual(ai[i], bi[i]) {
				return false
			}
		}
		return true
	}
	switch x := a.(type) {
	case *jsonvalue.Object:
		y, ok := b.(*jsonvalue.Object)
		if !ok || x.Len() != y.Len() {
			return false
		}
		for _, m := range x.Members() {
			v, ok := y.Get(m.Key)
			if !ok || !deepEqual(m.Value, v) {
				return false
			}
		}
		return true
	case string, bool, nil:
		return a == b
	}
	return false
}

func (ev *evaluator) rangeOf(lhs, rhs any, pos int) (any, error) {
	l, lok := num(lhs)
	r, rok := num(rhs)
	if !isUndef(lhs) && (!lok || l != math.Trunc(l)) {
		return nil, newError("T2003", pos, "The left side of the range operator (..) must evaluate to an integer")
	}
	if !isUndef(rhs) && (!rok || r != math.Trunc(r)) {
		return nil, newError("T2004", pos, "The right side of the range operator (..) must evaluate to an integer")
	}
	if !lok || !rok || l > r {
		return Undefined, nil
	}
	size := r - l + 1
	if size > 1e7 {
		return nil, newError("D2014", pos, "The size of the sequence allocated by the range operator (..) must not exceed 1e7.  Attempted to allocate %s.", formatNumber(size))
	}
	if err := ev.checkLen(pos, int(size)); err != nil {
		return nil, err
	}
	out := make([]any, int(size))
	for i := range out {
		out[i] = l + float64(i)
	}
	return &sequence{items: out}, nil
}

func (ev *evaluator) sortStep(n *node, input any, env *frame) (any, error) {
	items, ok := arr(input)
	if !ok {
		items = []any{input}
	}
	s, _ := input.(*sequence)
	ts := s != nil && s.tupleStream
	type keyed struct {
		v    any
		keys []any
	}
	ks := make([]keyed, len(items))
	for i, it := range items {
		ctxv, e := it, env
		if ts {
			ctxv = it.(tuple)["@"]
			e = frameFromTuple(env, it.(tuple))
		}
		ks[i].v = it
		for _, t := range n.terms {
			k, err := ev.eval(t.expression, ctxv, e)
			if err != nil {
				return nil, err
			}
			ks[i].keys = append(ks[i].keys, k)
		}
	}
	var sortErr error
	sort.SliceStable(ks, func(i, j int) bool {
		for ti, t := range n.terms {
			a, b := ks[i].keys[ti], ks[j].keys[ti]
			if isUndef(a) && isUndef(b) {
				continue
			}
			if isUndef(a) {
				return false
			}
			if isUndef(b) {
				return true
			}
			var c int
			an, aok := num(a)
			bn, bok := num(b)
			as, asok := a.(string)
			bs, bsok := b.(string)
			switch {
			case aok && bok:
				c = cmpFloat(an, bn)
			case asok && bsok:
				c = compareUTF16(as, bs)
			case (aok || asok) && (bok || bsok):
				if sortErr == nil {
					sortErr = newError("T2007", n.pos, "Type mismatch when comparing values %s and %s in order-by clause", display(a), display(b))
				}
				return false
			default:
				if sortErr == nil {
					sortErr = newError("T2008", n.pos, "The expressions within an order-by clause must evaluate to numeric or string values")
				}
				return false
			}
			if c == 0 {
				continue
			}
			if t.descending {
				return c > 0
			}
			return c < 0
		}
		return false
	})
	if sortErr != nil {
		return nil, sortErr
	}
	out := &sequence{tupleStream: ts}
	for _, k := range ks {
		out.items = append(out.items, k.v)
	}
	return out, nil
}
