package workflow_test

import (
	"context"
	"testing"

	"github.com/velocity-ci/velocity/internal/workflow"
	"github.com/velocity-ci/velocity/internal/workflow/asl"
)

// A JSONata state is tested like a JSONPath one: its Arguments and
// Output are evaluated, its Assign reported, and the walk stops where
// it would go next.
func TestTestStateJSONata(t *testing.T) {
	sm, err := asl.Load("test.asl.json", []byte(`{"QueryLanguage": "JSONata", "StartAt": "Add", "States": {
		"Add": {"Type": "Task", "Resource": "arn:test:add", "Arguments": {"sum": "{% $states.input.a + $base %}"},
			"Assign": {"last": "{% $states.result.sum %}"}, "Output": {"total": "{% $states.result.sum %}"}, "Next": "Never"},
		"Never": {"Type": "Fail", "Error": "Ran", "Cause": "the next state must not run"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	in := &workflow.Interpreter{Invoker: invokerFunc(func(_ context.Context, req workflow.TaskRequest) (any, error) {
		return req.Input, nil
	})}
	res, err := in.TestState(context.Background(), workflow.StateTest{Definition: sm, Input: map[string]any{"a": 2}, Variables: []byte(`{"base": 40}`)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != workflow.TestSucceeded || res.Output != `{"total":42}` || res.NextState != "Never" {
		t.Errorf("result %+v", res)
	}
	if i := res.Inspection; i.AfterArguments != `{"sum":42}` || i.Result != `{"sum":42}` || i.Variables != `{"base":40,"last":42}` || i.Input != `{"a":2}` {
		t.Errorf("inspection %+v", i)
	}
}

type invokerFunc func(context.Context, workflow.TaskRequest) (any, error)

func (f invokerFunc) Invoke(ctx context.Context, req workflow.TaskRequest) (any, error) {
	return f(ctx, req)
}
