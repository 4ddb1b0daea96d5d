package jsonvalue

import (
	"encoding/json"
	"math/big"
	"reflect"
)

// Equal reports whether a and b are the same JSON value as Step Functions'
// JSON nodes compare: objects by their members whatever their order,
// arrays element by element, numbers by value.
func Equal(a, b any) bool {
	switch a := a.(type) {
	case *Object:
		b, ok := b.(*Object)
		if !ok || a.Len() != b.Len() {
			return false
		}
		for _, m := range a.members {
			bv, ok := b.Get(m.Key)
			if !ok || !Equal(m.Value, bv) {
				return false
			}
		}
		return true
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !Equal(a[i], b[i]) {
				return false
			}
		}
		return true
	case json.Number:
		b, ok := b.(json.Number)
		if !ok {
			return false
		}
		if a == b {
			return true
		}
		x, _, err1 := big.ParseFloat(string(a), 10, 128, big.ToNearestEven)
		y, _, err2 := big.ParseFloat(string(b), 10, 128, big.ToNearestEven)
		return err1 == nil && err2 == nil && x.Cmp(y) == 0
	}
	return reflect.DeepEqual(a, b)
}
