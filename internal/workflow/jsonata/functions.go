package jsonata

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

type fnImpl = func(ev *evaluator, args []any, input any, pos int) (any, error)

func def(table map[string]*builtin, name, sig string, fn fnImpl) {
	s, err := parseSignature(sig, 0)
	if err != nil {
		panic("jsonata: bad signature of $" + name + ": " + err.Error())
	}
	table[name] = &builtin{fname: name, signature: s, fn: fn}
}

func utf16Of(s string) []uint16 { return utf16.Encode([]rune(s)) }

func strArg(args []any, i int) (string, bool) {
	s, ok := argAt(args, i).(string)
	return s, ok
}

func numArg(args []any, i int) (float64, bool) { return num(argAt(args, i)) }

// display writes a value for an error message.
func display(v any) string {
	s, err := stringify(v, false, 0)
	if err != nil {
		return "?"
	}
	if _, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return s
}

// stringify is $string: strings as they are, numbers to 15 significant
// digits, functions as "", anything else as JSON.
func stringify(v any, pretty bool, pos int) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case callable, *regexValue:
		return "", nil
	}
	if f, ok := num(v); ok {
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return "", newError("D3001", pos, "Attempting to invoke string function on Infinity or NaN")
		}
		return formatNumber(precision15(f)), nil
	}
	if hasNonFinite(v) {
		return "", newError("D1001", pos, "Number out of range: null")
	}
	b, err := marshalJS(output(v), pretty)
	if err != nil {
		return "", newError("D3001", pos, "%v", err)
	}
	return string(b), nil
}

func precision15(f float64) float64 {
	p, _ := strconv.ParseFloat(strconv.FormatFloat(f, 'g', 15, 64), 64)
	return p
}

// marshalJS writes JSON as JSON.stringify does, numbers at 15 digits.
func marshalJS(v any, pretty bool) ([]byte, error) {
	var b strings.Builder
	var w func(v any, indent string) error
	w = func(v any, indent string) error {
		switch x := v.(type) {
		case nil:
			b.WriteString("null")
		case bool:
			b.WriteString(strconv.FormatBool(x))
		case string:
			enc, _ := json.Marshal(x)
			b.Write(enc)
		case json.Number:
			f, _ := strconv.ParseFloat(string(x), 64)
			if math.IsInf(f, 0) || math.IsNaN(f) {
				b.WriteString("null")
			} else {
				b.WriteString(formatNumber(precision15(f)))
			}
		case []any:
			if len(x) == 0 {
				b.WriteString("[]")
				return nil
			}
			b.WriteString("[")
			for i, it := range x {
				if i > 0 {
					b.WriteString(",")
				}
				if pretty {
					b.WriteString("\n" + indent + "  ")
				}
				if err := w(it, indent+"  "); err != nil {
					return err
				}
			}
			if pretty {
				b.WriteString("\n" + indent)
			}
			b.WriteString("]")
		case *jsonvalue.Object:
			if x.Len() == 0 {
				b.WriteString("{}")
				return nil
			}
			b.WriteString("{")
			for i, m := range x.Members() {
				if i > 0 {
					b.WriteString(",")
				}
				if pretty {
					b.WriteString("\n" + indent + "  ")
				}
				enc, _ := json.Marshal(m.Key)
				b.Write(enc)
				b.WriteString(":")
				if pretty {
					b.WriteString(" ")
				}
				if err := w(m.Value, indent+"  "); err != nil {
					return err
				}
			}
			if pretty {
				b.WriteString("\n" + indent)
			}
			b.WriteString("}")
		default:
			b.WriteString("null")
		}
		return nil
	}
	err := w(v, "")
	return []byte(b.String()), err
}

func typeName(v any) string {
	switch v.(type) {
	case undefinedType:
		return ""
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case *jsonvalue.Object, tuple:
		return "object"
	case callable, *regexValue:
		return "function"
	}
	if _, ok := num(v); ok {
		return "number"
	}
	if _, ok := arr(v); ok {
		return "array"
	}
	return ""
}

func (ev *evaluator) hof(fn any, args []any, input any, pos int) (any, error) {
	n := len(args)
	if c, ok := fn.(callable); ok {
		n = c.arity()
	}
	if n > len(args) {
		n = len(args)
	}
	return ev.apply(fn, args[:n], input, pos)
}

func (ev *evaluator) strLimit(s string, pos int) (any, error) {
	if len(s) > ev.limits.MaxStringLength {
		return nil, limitError(pos, "MaxStringLength", ev.limits.MaxStringLength, "string length")
	}
	return s, nil
}

func numbersOf(v any) []float64 {
	items, _ := arr(v)
	out := make([]float64, 0, len(items))
	for _, it := range items {
		if f, ok := num(it); ok {
			out = append(out, f)
		}
	}
	return out
}

// substringJS is the reference's substring: it counts code points and
// slices as JavaScript's Array#slice does.
func substringJS(s string, start float64, length *float64) string {
	r := []rune(s)
	n := float64(len(r))
	if n+start < 0 {
		start = 0
	}
	idx := func(x float64) int {
		x = math.Trunc(x)
		if x < 0 {
			x = math.Max(0, n+x)
		}
		return int(math.Min(x, n))
	}
	if length != nil {
		if *length <= 0 {
			return ""
		}
		end := start + *length
		if start < 0 {
			end = n + start + *length
		}
		a, b := idx(start), idx(end)
		if a >= b {
			return ""
		}
		return string(r[a:b])
	}
	return string(r[idx(start):])
}

// builtins returns the function library: JSONata 2.0.6's, less $eval, plus
// the functions Step Functions adds (see aws.go).
func builtins() map[string]*builtin {
	t := map[string]*builtin{}
	undef := Undefined
	def(t, "sum", "<a<n>:n>", func(_ *evaluator, a []any, _ any, _ int) (any, error) {
		if isUndef(a[0]) {
			return undef, nil
		}
		s := 0.0
		for _, f := range numbersOf(a[0]) {
			s += f
		}
		return s, nil
	})
	def(t, "count", "<a:n>", func(_ *evaluator, a []any, _ any, _ int) (any, error) {
		if isUndef(a[0]) {
			return 0.0, nil
		}
		items, _ := arr(a[0])
		return float64(len(items)), nil
	})
	minmax := func(max bool) fnImpl {
		return func(_ *evaluator, a []any, _ any, _ int) (any, error) {
			ns := numbersOf(a[0])
			if isUndef(a[0]) || len(ns) == 0 {
				return undef, nil
			}
			r := ns[0]
			for _, f := range ns[1:] {
				if (max && f > r) || (!max && f < r) {
					r = f
				}
			}
			return r, nil
		}
	}
	def(t, "max", "<a<n>:n>", minmax(true))
	def(t, "min", "<a<n>:n>", minmax(false))
	def(t, "average", "<a<n>:n>", func(_ *evaluator, a []any, _ any, _ int) (any, error) {
		ns := numbersOf(a[0])
		if isUndef(a[0]) || len(ns) == 0 {
			return undef, nil
		}
		s := 0.0
		for _, f := range ns {
			s += f
		}
		return s / float64(len(ns)), nil
	})
	def(t, "string", "<x-b?:s>", func(ev *evaluator, a []any, _ any, pos int) (any, error) {
		if isUndef(a[0]) {
			return undef, nil
		}
		pretty, _ := a[1].(bool)
		s, err := stringify(a[0], pretty, pos)
		if err != nil {
			return nil, err
		}
		return ev.strLimit(s, pos)
	})
	def(t, "substring", "<s-nn?:s>", func(_ *evaluator, a []any, _ any, _ int) (any, error) {
		s, ok := a[0].(string)
		if !ok {
			return undef, nil
		}
		start, _ := num(a[1])
		if l, ok := num(a[2]); ok {
			return substringJS(s, start, &l), nil
		}
		return substringJS(s, start, nil), nil
	})
	def(t, "substringBefore", "<s-s:s>", func(_ *evaluator, a []any, _ any, _ int) (any, error) {
		s, ok := a[0].(string)
		if !ok {
			return undef, nil
		}
		chars, ok := a[1].(string)
		if !ok {
			return s, nil
		}
		if i := strings.Index(s, chars); i >= 0 {
			return s[:i], nil
		}
		return s, nil
	})
	def(t, "substringAfter", "<s-s:s>", func(_ *evaluator, a []any, _ any, _ int) (any, error) {
		s, ok := a[0].(string)
		if !ok {
			return undef, nil
		}
		chars, ok := a[1].(string)
		if !ok {
			return s, nil
		}
		if i := strings.Index(s, chars); i >= 0 {
			return s[i+len(chars):], nil
		}
		return s, nil
	})
	strFn := func(f func(string) any) fnImpl {
		return func(_ *evaluator, a []any, _ any, _ int) (any, error) {
			s, ok := a[0].(string)
			if !ok {
				return undef, nil
			}
			return f(s), nil
		}
	}
	def(t, "lowercase", "<s-:s>", strFn(func(s string) any { return strings.ToLower(s) }))
	def(t, "uppercase", "<s-:s>", strFn(func(s string) any { return upperJS(s) }))
	def(t, "length", "<s-:n>", strFn(func(s string) any { return float64(utf8.RuneCountInString(s)) }))
	def(t, "trim", "<s-:s>", strFn(func(s string) any { return strings.Join(strings.Fields(s), " ") }))
	def(t, "base64encode", "<s-:s>", strFn(func(s string) any { return base64.StdEncoding.EncodeToString([]byte(s)) }))
	def(t, "base64decode", "<s-:s>", strFn(func(s string) any {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			b, _ = base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
		}
		return string(b)
	}))
	def(t, "encodeUrlComponent", "<s-:s>", strFn(func(s string) any { return encodeURI(s, "-_.!~*'()") }))
	def(t, "encodeUrl", "<s-:s>", strFn(func(s string) any { return encodeURI(s, "-_.!~*'();/?:@&=+$,#") }))
	def(t, "decodeUrlComponent", "<s-:s>", strFn(func(s string) any { r, _ := url.PathUnescape(s); return r }))
	def(t, "decodeUrl", "<s-:s>", strFn(func(s string) any { r, _ := url.PathUnescape(s); return r }))
	def(t, "pad", "<s-ns?:s>", func(ev *evaluator, a []any, _ any, pos int) (any, error) {
		s, ok := a[0].(string)
		if !ok {
			return undef, nil
		}
		w, _ := num(a[1])
		ch, ok := a[2].(string)
		if !ok || ch == "" {
			ch = " "
		}
		n := int(math.Abs(w)) - utf8.RuneCountInString(s)
		if n <= 0 {
			return s, nil
		}
		if n > ev.limits.MaxStringLength {
			return nil, limitError(pos, "MaxStringLength", ev.limits.MaxStringLength, "string length")
		}
		pad := []rune(strings.Repeat(ch, n/len([]rune(ch))+1))[:n]
		if w < 0 {
			return string(pad) + s, nil
		}
		return s + string(pad), nil
	})
	def(t, "contains", "<s-(sf):b>", func(_ *evaluator, a []any, _ any, _ int) (any, error) {
		s, ok := a[0].(string)
		if !ok {
			return undef, nil
		}
		switch p := a[1].(type) {
		case string:
			return strings.Contains(s, p), nil
		case *regexValue:
			return p.re.MatchString(s), nil
		}
		return false, nil
	})
	def(t, "split", "<s-(sf)n?:a<s>>", func(_ *evaluator, a []any, _ any, pos int) (any, error) {
		s, ok := a[0].(string)
		if !ok {
			return undef, nil
		}
		limit := -1
		if l, ok := num(a[2]); ok {
			if l < 0 {
				return nil, newError("D3020", pos, "Third argument of split function must evaluate to a positive number")
			}
			limit = int(l)
		}
		var parts []string
		switch sep := a[1].(type) {
		case string:
			if sep == "" {
				for _, u := range utf16Of(s) {
					parts = append(parts, string(utf16.Decode([]uint16{u})))
				}
			} else {
				parts = strings.Split(s, sep)
			}
		case *regexValue:
			parts = sep.re.Split(s, -1)
		}
		out := []any{}
		for _, p := range parts {
			if limit >= 0 && len(out) >= limit {
				break
			}
			out = append(out, p)
		}
		return out, nil
	})
	def(t, "join", "<a<s>s?:s>", func(ev *evaluator, a []any, _ any, pos int) (any, error) {
		if isUndef(a[0]) {
			return undef, nil
		}
		items, _ := arr(a[0])
		sep, _ := a[1].(string)
		ss := make([]string, len(items))
		for i, it := range items {
			ss[i], _ = it.(string)
		}
		return ev.strLimit(strings.Join(ss, sep), pos)
	})
	def(t, "match", "<s-f<s:o>n?:a<o>>", func(_ *evaluator, a []any, _ any, pos int) (any, error) {
		s, ok := a[0].(string)
		if !ok {
			return undef, nil
		}
		re, _ := a[1].(*regexValue)
		limit := -1
		if l, ok := num(a[2]); ok {
			if l < 0 {
				return nil, newError("D3040", pos, "Third argument of match function must evaluate to a positive number")
			}
			limit = int(l)
		}
		out := newSeq()
		if re == nil {
			return out, nil
		}
		for _, m := range re.all(s, limit) {
			o := jsonvalue.NewObject(3)
			o.Set("match", m.text)
			o.Set("index", float64(m.index))
			groups := []any{}
			for _, g := range m.groups {
				groups = append(groups, g)
			}
			o.Set("groups", groups)
			out.items = append(out.items, o)
		}
		return out, nil
	})
	def(t, "replace", "<s-(sf)(sf)n?:s>", fnReplace)
	def(t, "number", "<(nsb)-:n>", func(_ *evaluator, a []any, _ any, pos int) (any, error) {
		switch x := a[0].(type) {
		case undefinedType:
			return undef, nil
		case bool:
			if x {
				return 1.0, nil
			}
			return 0.0, nil
		case string:
			if f, ok := parseJSNumber(x); ok {
				return f, nil
			}
			return nil, newError("D3030", pos, "Unable to cast value to a number: %q", x)
		}
		f, _ := num(a[0])
		return f, nil
	})
	numFn := func(f func(float64) float64) fnImpl {
		return func(_ *evaluator, a []any, _ any, _ int) (any, error) {
			x, ok := num(a[0])
			if !ok {
				return undef, nil
			}
			return f(x), nil
		}
	}
	def(t, "floor", "<n-:n>", numFn(math.Floor))
	def(t, "ceil", "<n-:n>", numFn(math.Ceil))
	def(t, "abs", "<n-:n>", numFn(math.Abs))
	def(t, "sqrt", "<n-:n>", func(_ *evaluator, a []any, _ any, pos int) (any, error) {
		x, ok := num(a[0])
		if !ok {
			return undef, nil
		}
		if x < 0 {
			return nil, newError("D3060", pos, "The sqrt function cannot be applied to a negative number: %s", formatNumber(x))
		}
		return math.Sqrt(x), nil
	})
	def(t, "power", "<n-n:n>", func(_ *evaluator, a []any, _ any, pos int) (any, error) {
		x, ok := num(a[0])
		if !ok {
			return undef, nil
		}
		y, _ := num(a[1])
		r := math.Pow(x, y)
		if math.IsNaN(r) || math.IsInf(r, 0) {
			return nil, newError("D3061", pos, "The power function has resulted in a value that cannot be represented as a JSON number: base=%s, exponent=%s", formatNumber(x), formatNumber(y))
		}
		return r, nil
	})
	def(t, "round", "<n-n?:n>", func(_ *evaluator, a []any, _ any, _ int) (any, error) {
		x, ok := num(a[0])
		if !ok {
			return undef, nil
		}
		p, _ := num(a[1])
		return roundHalfEven(x, int(p)), nil
	})
	def(t, "boolean", "<x-:b>", func(_ *evaluator, a []any, _ any, _ int) (any, error) {
		b := toBoolean(a[0])
		if b == nil {
			return undef, nil
		}
		return *b, nil
	})
	def(t, "not", "<x-:b>", func(_ *evaluator, a []any, _ any, _ int) (any, error) {
		b := toBoolean(a[0])
		if b == nil {
			return undef, nil
		}
		return !*b, nil
	})
	def(t, "exists", "<x:b>", func(_ *evaluator, a []any, _ any, _ int) (any, error) { return !isUndef(a[0]), nil })
	def(t, "type", "<x:s>", func(_ *evaluator, a []any, _ any, _ int) (any, error) {
		if isUndef(a[0]) {
			return undef, nil
		}
		return typeName(a[0]), nil
	})
	def(t, "map", "<af>", func(ev *evaluator, a []any, in any, pos int) (any, error) {
		if isUndef(a[0]) {
			return undef, nil
		}
		items, _ := arr(a[0])
		out := newSeq()
		for i, it := range items {
			r, err := ev.hof(a[1], []any{it, float64(i), a[0]}, in, pos)
			if err != nil {
				return nil, err
			}
			if !isUndef(r) {
				out.items = append(out.items, r)
			}
		}
		return out, nil
	})
	def(t, "filter", "<af>", func(ev *evaluator, a []any, in any, pos int) (any, error) {
		if isUndef(a[0]) {
			return undef, nil
		}
		items, _ := arr(a[0])
		out := newSeq()
		for i, it := range items {
			r, err := ev.hof(a[1], []any{it, float64(i), a[0]}, in, pos)
			if err != nil {
				return nil, err
			}
			if truthy(r) {
				out.items = append(out.items, it)
			}
		}
		return out, nil
	})
	def(t, "single", "<af?>", func(ev *evaluator, a []any, in any, pos int) (any, error) {
		if isUndef(a[0]) {
			return undef, nil
		}
		items, _ := arr(a[0])
		found := false
		var result any = undef
		for i, it := range items {
			ok := true
			if !isUndef(a[1]) {
				r, err := ev.hof(a[1], []any{it, float64(i), a[0]}, in, pos)
				if err != nil {
					return nil, err
				}
				ok = truthy(r)
			}
			if ok {
				if found {
					return nil, newError("D3138", pos, "The $single() function expected exactly 1 matching result.  Instead it matched more.")
				}
				found = true
				result = it
			}
		}
		if !found {
			return nil, newError("D3139", pos, "The $single() function expected exactly 1 matching result.  Instead it matched 0.")
		}
		return result, nil
	})
	def(t, "reduce", "<afj?:j>", func(ev *evaluator, a []any, in any, pos int) (any, error) {
		if isUndef(a[0]) {
			return undef, nil
		}
		items, _ := arr(a[0])
		if c, ok := a[1].(callable); ok && c.arity() < 2 {
			return nil, newError("D3050", pos, "The second argument of reduce function must be a function with at least two arguments")
		}
		acc := a[2]
		i := 0
		if isUndef(acc) && len(items) > 0 {
			acc = items[0]
			i = 1
		}
		for ; i < len(items); i++ {
			r, err := ev.hof(a[1], []any{acc, items[i], float64(i), a[0]}, in, pos)
			if err != nil {
				return nil, err
			}
			acc = r
		}
		return acc, nil
	})
	def(t, "sift", "<o-f?:o>", func(ev *evaluator, a []any, in any, pos int) (any, error) {
		o, ok := a[0].(*jsonvalue.Object)
		if !ok {
			return undef, nil
		}
		out := jsonvalue.NewObject(0)
		for _, m := range o.Members() {
			r, err := ev.hof(a[1], []any{m.Value, m.Key, o}, in, pos)
			if err != nil {
				return nil, err
			}
			if truthy(r) {
				out.Set(m.Key, m.Value)
			}
		}
		if out.Len() == 0 {
			return undef, nil
		}
		return out, nil
	})
	def(t, "each", "<o-f:a>", func(ev *evaluator, a []any, in any, pos int) (any, error) {
		o, ok := a[0].(*jsonvalue.Object)
		if !ok {
			return undef, nil
		}
		out := newSeq()
		for _, m := range o.Members() {
			r, err := ev.hof(a[1], []any{m.Value, m.Key, o}, in, pos)
			if err != nil {
				return nil, err
			}
			if !isUndef(r) {
				out.items = append(out.items, r)
			}
		}
		return out, nil
	})
	def(t, "keys", "<x-:a<s>>", func(_ *evaluator, a []any, _ any, _ int) (any, error) {
		out := newSeq()
		seen := map[string]bool{}
		add := func(v any) {
			if o, ok := v.(*jsonvalue.Object); ok {
				for _, k := range o.Keys() {
					if !seen[k] {
						seen[k] = true
						out.items = append(out.items, k)
					}
				}
			}
		}
		if items, ok := arr(a[0]); ok {
			for _, it := range items {
				add(it)
			}
		} else {
			add(a[0])
		}
		if len(out.items) == 0 {
			return undef, nil
		}
		return out, nil
	})
	def(t, "lookup", "<x-s:x>", func(_ *evaluator, a []any, _ any, _ int) (any, error) {
		k, _ := a[1].(string)
		return lookupField(a[0], k), nil
	})
	def(t, "append", "<xx:a>", func(_ *evaluator, a []any, _ any, _ int) (any, error) {
		r := appendValues(a[0], a[1])
		if s, ok := r.(*sequence); ok {
			return s.items, nil
		}
		return r, nil
	})
	def(t, "spread", "<x-:a<o>>", func(_ *evaluator, a []any, _ any, _ int) (any, error) {
		out := newSeq()
		var rec func(v any)
		rec = func(v any) {
			if items, ok := arr(v); ok {
				for _, it := range items {
					rec(it)
				}
				return
			}
			if o, ok := v.(*jsonvalue.Object); ok {
				for _, m := range o.Members() {
					e := jsonvalue.NewObject(1)
					e.Set(m.Key, m.Value)
					out.items = append(out.items, e)
				}
				return
			}
			out.items = append(out.items, v)
		}
		if isUndef(a[0]) {
			return undef, nil
		}
		rec(a[0])
		return out, nil
	})
	def(t, "merge", "<a<o>:o>", func(_ *evaluator, a []any, _ any, _ int) (any, error) {
		if isUndef(a[0]) {
			return undef, nil
		}
		items, _ := arr(a[0])
		out := jsonvalue.NewObject(0)
		for _, it := range items {
			if o, ok := it.(*jsonvalue.Object); ok {
				for _, m := range o.Members() {
					out.Set(m.Key, m.Value)
				}
			}
		}
		return out, nil
	})
	def(t, "reverse", "<a:a>", func(_ *evaluator, a []any, _ any, _ int) (any, error) {
		if isUndef(a[0]) {
			return undef, nil
		}
		items, _ := arr(a[0])
		out := make([]any, len(items))
		for i, it := range items {
			out[len(items)-1-i] = it
		}
		return out, nil
	})
	def(t, "shuffle", "<a:a>", func(ev *evaluator, a []any, _ any, _ int) (any, error) {
		if isUndef(a[0]) {
			return undef, nil
		}
		items, _ := arr(a[0])
		out := append([]any(nil), items...)
		ev.rand().Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
		return out, nil
	})
	def(t, "distinct", "<x:x>", func(_ *evaluator, a []any, _ any, _ int) (any, error) {
		items, ok := arr(a[0])
		if !ok {
			return a[0], nil
		}
		out := []any{}
		for _, it := range items {
			dup := false
			for _, o := range out {
				if deepEqual(o, it) {
					dup = true
					break
				}
			}
			if !dup {
				out = append(out, it)
			}
		}
		if _, ok := a[0].(*sequence); ok {
			return &sequence{items: out}, nil
		}
		return out, nil
	})
	def(t, "sort", "<af?:a>", fnSort)
	def(t, "zip", "<a+>", func(_ *evaluator, a []any, _ any, _ int) (any, error) {
		out := []any{}
		if len(a) == 0 {
			return out, nil
		}
		n := math.MaxInt
		lists := make([][]any, len(a))
		for i, x := range a {
			lists[i], _ = arr(x)
			n = min(n, len(lists[i]))
		}
		for i := 0; i < n; i++ {
			t := make([]any, len(lists))
			for j := range lists {
				t[j] = lists[j][i]
			}
			out = append(out, t)
		}
		return out, nil
	})
	def(t, "error", "<s?:x>", func(_ *evaluator, a []any, _ any, pos int) (any, error) {
		msg, ok := a[0].(string)
		if !ok {
			msg = "$error() function evaluated"
		}
		return nil, newError("D3137", pos, "%s", msg)
	})
	def(t, "assert", "<bs?:x>", func(_ *evaluator, a []any, _ any, pos int) (any, error) {
		if b, _ := a[0].(bool); !b {
			msg, ok := a[1].(string)
			if !ok {
				msg = "$assert() statement failed"
			}
			return nil, newError("D3141", pos, "%s", msg)
		}
		return undef, nil
	})
	def(t, "clone", "<(oa)-:o>", func(_ *evaluator, a []any, _ any, _ int) (any, error) { return deepClone(a[0]), nil })
	def(t, "now", "<s?s?:s>", func(ev *evaluator, a []any, _ any, pos int) (any, error) {
		return fromMillis(ev.now, a[0], a[1], pos)
	})
	def(t, "millis", "<:n>", func(ev *evaluator, _ []any, _ any, _ int) (any, error) { return ev.now, nil })
	def(t, "fromMillis", "<n-s?s?:s>", func(_ *evaluator, a []any, _ any, pos int) (any, error) {
		ms, ok := num(a[0])
		if !ok {
			return undef, nil
		}
		return fromMillis(ms, a[1], a[2], pos)
	})
	def(t, "toMillis", "<s-s?:n>", func(_ *evaluator, a []any, _ any, pos int) (any, error) {
		s, ok := a[0].(string)
		if !ok {
			return undef, nil
		}
		return toMillis(s, a[1], pos)
	})
	def(t, "formatBase", "<n-n?:s>", func(_ *evaluator, a []any, _ any, pos int) (any, error) {
		x, ok := num(a[0])
		if !ok {
			return undef, nil
		}
		radix := 10.0
		if r, ok := num(a[1]); ok {
			radix = r
		}
		if radix < 2 || radix > 36 {
			return nil, newError("D3100", pos, "The radix of the formatBase function must be between 2 and 36.  It was given %s", formatNumber(radix))
		}
		return strconv.FormatInt(int64(roundHalfEven(x, 0)), int(radix)), nil
	})
	def(t, "formatNumber", "<n-so?:s>", fnFormatNumber)
	def(t, "formatInteger", "<n-s:s>", fnFormatInteger)
	def(t, "parseInteger", "<s-s:n>", fnParseInteger)
	return t
}

// roundHalfEven is $round: halves go to the even neighbour.
func roundHalfEven(x float64, prec int) float64 {
	// Work on the decimal text, as the reference does, so 1.005 stays 1.005.
	s := strconv.FormatFloat(x, 'e', -1, 64)
	mant, exp, _ := strings.Cut(s, "e")
	e, _ := strconv.Atoi(exp)
	shifted, _ := strconv.ParseFloat(mant+"e"+strconv.Itoa(e+prec), 64)
	r := math.RoundToEven(shifted)
	if math.Abs(shifted-math.Trunc(shifted)) != 0.5 {
		r = math.Round(shifted)
	}
	rs := strconv.FormatFloat(r, 'e', -1, 64)
	rm, rexp, _ := strings.Cut(rs, "e")
	re, _ := strconv.Atoi(rexp)
	out, _ := strconv.ParseFloat(rm+"e"+strconv.Itoa(re-prec), 64)
	if out == 0 {
		return 0
	}
	return out
}

// parseJSNumber accepts what $number does: JSON number syntax and the
// 0x, 0o and 0b prefixes.
func parseJSNumber(s string) (float64, bool) {
	if len(s) > 2 && s[0] == '0' {
		base := 0
		switch s[1] {
		case 'x', 'X':
			base = 16
		case 'o', 'O':
			base = 8
		case 'b', 'B':
			base = 2
		}
		if base > 0 {
			n, err := strconv.ParseInt(s[2:], base, 64)
			return float64(n), err == nil
		}
	}
	var f float64
	if json.Unmarshal([]byte(s), &f) != nil || strings.TrimSpace(s) != s {
		return 0, false
	}
	return f, true
}

func encodeURI(s, keep string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strings.IndexByte(keep, c) >= 0 {
			b.WriteByte(c)
		} else {
			b.WriteString("%" + strings.ToUpper(strconv.FormatInt(int64(c)|0x100, 16)[1:]))
		}
	}
	return b.String()
}

func fnReplace(ev *evaluator, a []any, in any, pos int) (any, error) {
	s, ok := a[0].(string)
	if !ok {
		return Undefined, nil
	}
	limit := -1
	if l, ok := num(a[3]); ok {
		if l < 0 {
			return nil, newError("D3011", pos, "Fourth argument of replace function must evaluate to a positive number")
		}
		limit = int(l)
	}
	switch p := a[1].(type) {
	case string:
		if p == "" {
			return nil, newError("D3010", pos, "Second argument of replace function cannot be an empty string")
		}
		rep, ok := a[2].(string)
		if !ok {
			return nil, newError("D3012", pos, "Attempted to replace a matched string with a non-string value")
		}
		return ev.strLimit(strings.Replace(s, p, rep, limit), pos)
	case *regexValue:
		var b strings.Builder
		last := 0
		count := 0
		for _, loc := range p.re.FindAllStringSubmatchIndex(s, -1) {
			if limit >= 0 && count >= limit {
				break
			}
			if loc[0] == loc[1] {
				return nil, newError("D1004", pos, "Regular expression matches zero length string")
			}
			b.WriteString(s[last:loc[0]])
			m := match{text: s[loc[0]:loc[1]]}
			for g := 2; g < len(loc); g += 2 {
				if loc[g] < 0 {
					m.groups = append(m.groups, "")
				} else {
					m.groups = append(m.groups, s[loc[g]:loc[g+1]])
				}
			}
			switch r := a[2].(type) {
			case string:
				b.WriteString(expandReplacement(r, m))
			default:
				mo := jsonvalue.NewObject(3)
				mo.Set("match", m.text)
				mo.Set("index", float64(utf16Len(s[:loc[0]])))
				groups := []any{}
				for _, g := range m.groups {
					groups = append(groups, g)
				}
				mo.Set("groups", groups)
				v, err := ev.apply(r, []any{mo}, in, pos)
				if err != nil {
					return nil, err
				}
				vs, ok := v.(string)
				if !ok {
					return nil, newError("D3012", pos, "Attempted to replace a matched string with a non-string value")
				}
				b.WriteString(vs)
			}
			last = loc[1]
			count++
			if b.Len() > ev.limits.MaxStringLength {
				return nil, limitError(pos, "MaxStringLength", ev.limits.MaxStringLength, "string length")
			}
		}
		b.WriteString(s[last:])
		return b.String(), nil
	}
	return Undefined, nil
}

func fnSort(ev *evaluator, a []any, in any, pos int) (any, error) {
	if isUndef(a[0]) {
		return Undefined, nil
	}
	items, _ := arr(a[0])
	if len(items) <= 1 {
		return items, nil
	}
	out := append([]any(nil), items...)
	var err error
	if isUndef(a[1]) {
		allNum, allStr := true, true
		for _, it := range out {
			if _, ok := num(it); !ok {
				allNum = false
			}
			if _, ok := it.(string); !ok {
				allStr = false
			}
		}
		if !allNum && !allStr {
			return nil, newError("D3070", pos, "The single argument form of the sort function can only be applied to an array of strings or an array of numbers.  Use the second argument to specify a comparison function")
		}
		sort.SliceStable(out, func(i, j int) bool {
			if allNum {
				x, _ := num(out[i])
				y, _ := num(out[j])
				return x < y
			}
			return compareUTF16(out[i].(string), out[j].(string)) < 0
		})
		return out, nil
	}
	// The reference merge-sorts with "swap when fn(a, b) is true".
	sort.SliceStable(out, func(i, j int) bool {
		if err != nil {
			return false
		}
		r, e := ev.apply(a[1], []any{out[j], out[i]}, in, pos)
		if e != nil {
			err = e
			return false
		}
		return truthy(r)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func millisTime(ms float64) time.Time {
	return time.UnixMilli(int64(ms)).UTC()
}

// upperJS is JavaScript's toUpperCase: Go's maps one rune to one rune,
// JavaScript also expands the characters whose capital is two letters.
func upperJS(s string) string {
	u := strings.ToUpper(s)
	if !strings.ContainsAny(u, "ßﬀﬁﬂﬃﬄﬅﬆ") {
		return u
	}
	return strings.NewReplacer("ß", "SS", "ﬀ", "FF", "ﬁ", "FI", "ﬂ", "FL", "ﬃ", "FFI", "ﬄ", "FFL", "ﬅ", "ST", "ﬆ", "ST").Replace(u)
}

func hasNonFinite(v any) bool {
	switch x := v.(type) {
	case float64:
		return math.IsInf(x, 0) || math.IsNaN(x)
	case *jsonvalue.Object:
		for _, m := range x.Members() {
			if hasNonFinite(m.Value) {
				return true
			}
		}
	default:
		if items, ok := arr(v); ok {
			for _, it := range items {
				if hasNonFinite(it) {
					return true
				}
			}
		}
	}
	return false
}

// expandReplacement substitutes $$, $0 and $n in a replacement string
// exactly as the reference does, including its reading of $n when n has
// more digits than there are groups.
func expandReplacement(r string, m match) string {
	var b strings.Builder
	pos := 0
	idx := strings.IndexByte(r, '$')
	for idx >= 0 && pos < len(r) {
		b.WriteString(r[pos:idx])
		pos = idx + 1
		var c byte
		if pos < len(r) {
			c = r[pos]
		}
		switch {
		case c == '$':
			b.WriteByte('$')
			pos++
		case c == '0':
			b.WriteString(m.text)
			pos++
		default:
			maxDigits := 1
			if len(m.groups) > 0 {
				maxDigits = len(strconv.Itoa(len(m.groups)))
			}
			n, ok := leadingInt(r[pos:min(len(r), pos+maxDigits)])
			if maxDigits > 1 && n > len(m.groups) {
				n, ok = leadingInt(r[pos:min(len(r), pos+maxDigits-1)])
			}
			if ok {
				if len(m.groups) > 0 && n >= 1 && n <= len(m.groups) {
					b.WriteString(m.groups[n-1])
				}
				pos += len(strconv.Itoa(n))
			} else {
				b.WriteByte('$')
			}
		}
		idx = strings.IndexByte(r[pos:], '$')
		if idx >= 0 {
			idx += pos
		}
	}
	b.WriteString(r[min(pos, len(r)):])
	return b.String()
}

// leadingInt is JavaScript's parseInt on s: the leading decimal digits.
func leadingInt(s string) (int, bool) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, false
	}
	n, _ := strconv.Atoi(s[:i])
	return n, true
}
