package asl_test

import (
	"fmt"

	"github.com/velocity-ci/velocity/internal/workflow/asl"
)

func ExampleValidate() {
	src := []byte(`StartAt: Greet
States:
  Greet:
    Type: Pass
    Parameters:
      message.$: States.Format('Hello, {}!', $.name)
    Next: Wiat
  Wait:
    Type: Wait
    Seconds: -5
    End: true
`)
	for _, e := range asl.Validate("hello.asl.yaml", src) {
		fmt.Println(e)
	}
	// Output:
	// hello.asl.yaml:7:11: /States/Greet/Next: transition to "Wiat" names no state (did you mean "Wait"?)
	// hello.asl.yaml:8:3: /States/Wait: state "Wait" is unreachable: no transition from StartAt "Greet" leads to it
	// hello.asl.yaml:10:14: /States/Wait/Seconds: must be between 0 and 99999999, got -5
}

func ExampleLoad() {
	sm, err := asl.Load("tiny.json", []byte(`{"StartAt": "Done", "States": {"Done": {"Type": "Succeed", "OutputPath": null}}}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	done := sm.States[sm.StartAt]
	fmt.Println(done.Type, done.OutputPathNull)
	// Output:
	// Succeed true
}
