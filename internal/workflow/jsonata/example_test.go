package jsonata_test

import (
	"context"
	"fmt"

	"github.com/velocity-ci/velocity/internal/workflow/jsonata"
	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

func Example() {
	states, _ := jsonvalue.Decode([]byte(`{"input": {"items": [
		{"sku": "a", "qty": 2, "price": 10},
		{"sku": "b", "qty": 1, "price": 5.5}]}}`))
	e, err := jsonata.Compile(`{
		"total": $sum($states.input.items.(qty * price)),
		"skus": $join($states.input.items.sku, ",")
	}`)
	if err != nil {
		fmt.Println(err)
		return
	}
	v, err := e.Evaluate(context.Background(), jsonata.Undefined, map[string]any{"states": states})
	if err != nil {
		fmt.Println(err)
		return
	}
	out, _ := jsonvalue.Marshal(v)
	fmt.Println(string(out))

	missing, _ := jsonata.Compile(`$states.input.nothing`)
	v, _ = missing.Evaluate(context.Background(), jsonata.Undefined, map[string]any{"states": states})
	fmt.Println(v == jsonata.Undefined)

	_, err = jsonata.Compile(`$states.input.items[`)
	fmt.Println(err)
	// Output:
	// {"total":25.5,"skus":"a,b"}
	// true
	// S0203 at position 20: Expected "]" before end of expression
}
