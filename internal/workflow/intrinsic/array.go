package intrinsic

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

func evalArray(_ *Call, args []any) (any, error) {
	out := make([]any, len(args))
	copy(out, args)
	return out, nil
}

func evalArrayPartition(_ *Call, args []any) (any, error) {
	a, err := arrayArg(args[0], "first")
	if err != nil {
		return nil, err
	}
	size, err := truncArg(args[1], "chunk size")
	if err != nil {
		return nil, err
	}
	if size <= 0 {
		return nil, fmt.Errorf("the chunk size must be a positive integer, got %d", size)
	}
	out := make([]any, 0, (len(a)+int(size)-1)/int(size))
	for i := 0; i < len(a); i += int(size) {
		end := min(i+int(size), len(a))
		chunk := make([]any, end-i)
		copy(chunk, a[i:end])
		out = append(out, chunk)
	}
	return out, nil
}

func evalArrayContains(_ *Call, args []any) (any, error) {
	a, err := arrayArg(args[0], "first")
	if err != nil {
		return nil, err
	}
	// AWS compares the values as States.Format renders them: true matches
	// "true" and 5 matches "5" (observed), while 1 and 1.0 differ. Objects
	// are compared whatever their member order, as Java's maps are.
	want := formatted(args[1])
	for _, v := range a {
		if formatted(v) == want {
			return true, nil
		}
	}
	return false, nil
}

func formatted(v any) string {
	var b strings.Builder
	writeFormatted(&b, v, true)
	return b.String()
}

func evalArrayRange(_ *Call, args []any) (any, error) {
	var n [3]int64
	for i, what := range []string{"start", "end", "step"} {
		v, err := truncArg(args[i], what)
		if err != nil {
			return nil, err
		}
		n[i] = v
	}
	start, end, step := n[0], n[1], n[2]
	if step == 0 {
		return nil, errors.New("the step must not be 0")
	}
	count := int64(0)
	if (step > 0 && start <= end) || (step < 0 && start >= end) {
		count = (end-start)/step + 1
	}
	if count > maxRangeItems {
		return nil, fmt.Errorf("the range would have %d items; an array can hold at most %d", count, maxRangeItems)
	}
	out := make([]any, count)
	for i := range out {
		out[i] = json.Number(strconv.FormatInt(start+int64(i)*step, 10))
	}
	return out, nil
}

func evalArrayGetItem(_ *Call, args []any) (any, error) {
	a, err := arrayArg(args[0], "first")
	if err != nil {
		return nil, err
	}
	idx, err := truncArg(args[1], "index")
	if err != nil {
		return nil, err
	}
	if len(a) == 0 {
		// AWS gives null for any index into an empty array.
		return nil, nil
	}
	if idx < 0 || idx >= int64(len(a)) {
		return nil, fmt.Errorf("the index %d is out of bounds for an array of %d item(s)", idx, len(a))
	}
	return a[idx], nil
}

func evalArrayLength(_ *Call, args []any) (any, error) {
	a, err := arrayArg(args[0], "")
	if err != nil {
		return nil, err
	}
	return json.Number(strconv.Itoa(len(a))), nil
}

// evalArrayUnique keeps the first occurrence of every value, in order.
func evalArrayUnique(_ *Call, args []any) (any, error) {
	a, err := arrayArg(args[0], "")
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, len(a))
	seen := make(map[string]bool, len(a))
	for _, v := range a {
		key := canonical(v)
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, v)
	}
	return out, nil
}

func canonical(v any) string {
	var b strings.Builder
	writeCanonical(&b, v)
	return b.String()
}

func writeCanonical(b *strings.Builder, v any) {
	switch v := v.(type) {
	case *jsonvalue.Object:
		// Jackson's object nodes are equal whatever their member order.
		b.WriteByte('{')
		for i, k := range sortedKeys(v) {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Quote(k))
			b.WriteByte(':')
			x, _ := v.Get(k)
			writeCanonical(b, x)
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, x := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			writeCanonical(b, x)
		}
		b.WriteByte(']')
	case json.Number:
		s := string(v)
		if strings.ContainsAny(s, ".eE") {
			f, _ := v.Float64()
			b.WriteString("f" + strconv.FormatFloat(f, 'g', -1, 64))
		} else if i, err := v.Int64(); err == nil {
			b.WriteString("i" + strconv.FormatInt(i, 10))
		} else {
			b.WriteString("i" + s)
		}
	case float64:
		b.WriteString("f" + strconv.FormatFloat(v, 'g', -1, 64))
	case int:
		b.WriteString("i" + strconv.Itoa(v))
	case int64:
		b.WriteString("i" + strconv.FormatInt(v, 10))
	default:
		b.WriteString(compact(v))
	}
}
