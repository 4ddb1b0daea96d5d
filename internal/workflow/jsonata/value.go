package jsonata

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

// undefinedType is the type of Undefined.
type undefinedType struct{}

// Undefined is what Evaluate returns when the expression has no value
// (a path that matches nothing), as opposed to JSON null (Go nil).
var Undefined any = undefinedType{}

func isUndef(v any) bool { _, ok := v.(undefinedType); return ok }

// sequence is the reference's "sequence": the array a path yields, which
// collapses to its one item or to undefined unless keepSingleton is set.
type sequence struct {
	items         []any
	keepSingleton bool
	outerWrapper  bool
	tupleStream   bool
}

// consArray is an array built by an array constructor in a path, which a
// path step keeps whole rather than flattening.
type consArray []any

type tuple map[string]any

func newSeq(items ...any) *sequence { return &sequence{items: items} }

// arr returns the items of anything JavaScript sees as an array.
func arr(v any) ([]any, bool) {
	switch a := v.(type) {
	case []any:
		return a, true
	case consArray:
		return a, true
	case *sequence:
		return a.items, true
	}
	return nil, false
}

func num(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case json.Number:
		f, err := strconv.ParseFloat(string(n), 64)
		return f, err == nil
	case int:
		return float64(n), true
	}
	return 0, false
}

func isInf(f float64) bool { return math.IsInf(f, 0) }

func isFunc(v any) bool {
	switch v.(type) {
	case callable, *regexValue:
		return true
	}
	return false
}

// formatNumber writes f as JavaScript's Number#toString does.
func formatNumber(f float64) string {
	if f == 0 {
		return "0"
	}
	abs := math.Abs(f)
	if abs >= 1e21 || abs < 1e-6 {
		s := strconv.FormatFloat(f, 'e', -1, 64)
		mant, exp, _ := strings.Cut(s, "e")
		e, _ := strconv.Atoi(exp)
		if e >= 0 {
			return mant + "e+" + strconv.Itoa(e)
		}
		return mant + "e" + strconv.Itoa(e)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// output turns an internal value into the workflow's JSON model: sequences
// collapse to arrays, numbers become json.Number, functions are dropped as
// JSON.stringify drops them. Parts that hold no internal value are shared.
func output(v any) any {
	o, _ := clean(v)
	return o
}

func clean(v any) (any, bool) {
	switch x := v.(type) {
	case undefinedType:
		return Undefined, true
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return nil, true // JSON has no such number: JSON.stringify writes null
		}
		return json.Number(formatNumber(x)), true
	case int:
		return json.Number(strconv.Itoa(x)), true
	case *sequence:
		return cleanArray(x.items, true)
	case consArray:
		return cleanArray(x, true)
	case []any:
		return cleanArray(x, false)
	case *jsonvalue.Object:
		var o *jsonvalue.Object
		ms := x.Members()
		for i, m := range ms {
			ov, changed := clean(m.Value)
			if changed && o == nil {
				o = jsonvalue.NewObject(len(ms))
				for _, p := range ms[:i] {
					o.Set(p.Key, p.Value)
				}
			}
			if o != nil && !isUndef(ov) {
				o.Set(m.Key, ov)
			}
		}
		if o == nil {
			return x, false
		}
		return o, true
	case callable, *regexValue:
		// As JSON.stringify: a function is no value (a member holding one
		// is left out); cleanArray writes null for one in an array.
		return Undefined, true
	}
	return v, false
}

func cleanArray(x []any, changed bool) (any, bool) {
	var out []any
	if changed {
		out = make([]any, 0, len(x))
	}
	for i, it := range x {
		o, c := clean(it)
		if c && out == nil {
			out = make([]any, i, len(x))
			copy(out, x[:i])
		}
		if out != nil && !isUndef(o) {
			out = append(out, o)
		} else if out != nil && isFunc(it) {
			out = append(out, nil)
		}
	}
	if out == nil {
		return x, false
	}
	return out, true
}
