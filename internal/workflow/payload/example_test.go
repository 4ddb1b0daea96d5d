package payload_test

import (
	"encoding/json"
	"fmt"

	"github.com/velocity-ci/velocity/internal/workflow/payload"
)

func ExampleTemplate_Eval() {
	tmpl, err := payload.Compile(json.RawMessage(`{
		"greeting.$": "States.Format('Hello, {}!', $.name)",
		"execution.$": "$$.Execution.Name",
		"static": "kept as is"
	}`))
	if err != nil {
		panic(err)
	}
	input, _ := payload.Decode([]byte(`{"name": "Arnav"}`))
	context, _ := payload.Decode([]byte(`{"Execution": {"Name": "test"}}`))
	out, err := tmpl.Eval(input, context)
	if err != nil {
		panic(err)
	}
	// Plain fields come first, then the ".$" fields, in the order Step
	// Functions gives them.
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
	// Output: {"static":"kept as is","execution":"test","greeting":"Hello, Arnav!"}
}
