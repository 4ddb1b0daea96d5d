package intrinsic

import (
	"errors"
	"fmt"
	"strings"

	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

func evalStringToJSON(_ *Call, args []any) (any, error) {
	s, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("the argument must be a string, got %s", describe(args[0]))
	}
	// Step Functions reads blank text as null (recorded from AWS), and
	// numbers as its JSON parser holds them (-0 is 0, 1.50 is 1.5).
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	v, err := jsonvalue.Decode([]byte(s))
	if errors.Is(err, jsonvalue.ErrTrailingData) {
		return nil, errors.New("the argument is not valid JSON: it has data after the first value")
	}
	if err != nil {
		return nil, fmt.Errorf("the argument is not valid JSON: %v", err)
	}
	return v, nil
}

func evalJSONToString(_ *Call, args []any) (any, error) {
	s, err := encode(args[0])
	if err != nil {
		return nil, fmt.Errorf("the argument cannot be written as JSON: %v", err)
	}
	return s, nil
}

// checkJSONMerge rejects a literal true deep flag when the definition is
// read: Step Functions supports shallow merging only.
func checkJSONMerge(c *Call) error {
	if len(c.args) == 3 && c.args[2].kind == argLiteral && c.args[2].value == true {
		return errors.New(deepMergeMessage)
	}
	return nil
}

// evalJSONMerge merges shallowly: the second object's members replace the
// first's. The merged members come out in java.util.HashMap order, as
// recorded from AWS ({a,b,d} merged with {a,c,d} gives a, b, c, d, not the
// a, b, d, c of an order-keeping map); the values keep their own order. A
// deep flag that is not the boolean true merges shallowly too, as AWS does.
func evalJSONMerge(_ *Call, args []any) (any, error) {
	a, ok1 := args[0].(*jsonvalue.Object)
	b, ok2 := args[1].(*jsonvalue.Object)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("the first two arguments must be JSON objects, got %s and %s", describe(args[0]), describe(args[1]))
	}
	if args[2] == true {
		return nil, errors.New(deepMergeMessage)
	}
	merged := a.Clone()
	for k, v := range b.All() {
		merged.Set(k, v)
	}
	out := jsonvalue.NewObject(merged.Len())
	for _, k := range jsonvalue.JavaHashOrder(merged.Keys()) {
		v, _ := merged.Get(k)
		out.Set(k, v)
	}
	return out, nil
}
