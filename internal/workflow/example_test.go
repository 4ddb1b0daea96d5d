package workflow_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/velocity-ci/velocity/internal/workflow"
	"github.com/velocity-ci/velocity/internal/workflow/asl"
	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

// greeter is a task resource: it greets the name it is given.
type greeter struct{}

func (greeter) Invoke(_ context.Context, req workflow.TaskRequest) (any, error) {
	name, _ := req.Input.(*jsonvalue.Object).Get("name")
	return map[string]any{"greeting": fmt.Sprintf("hello, %s", name)}, nil
}

// Run an execution, then resume it from the first half of its history,
// as if the process had died there: the half ends while the second
// name's task is in flight, so the first task (recorded as finished) is
// not invoked again, the second is invoked again and the third for the
// first time.
func Example() {
	sm, err := asl.Load("hello.asl.json", []byte(`{
	  "StartAt": "Each",
	  "States": {"Each": {
	    "Type": "Map", "ItemsPath": "$.names", "MaxConcurrency": 1,
	    "ItemSelector": {"name.$": "$$.Map.Item.Value"},
	    "ItemProcessor": {"StartAt": "Greet", "States": {"Greet": {
	      "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
	      "OutputPath": "$.greeting", "End": true}}},
	    "End": true}}}`))
	if err != nil {
		panic(err)
	}
	journal := workflow.NewMemoryJournal()
	in := &workflow.Interpreter{Journal: journal, Invoker: greeter{}}
	ex := workflow.Execution{ID: "1", Name: "hello", StateMachineName: "greet", Definition: sm,
		Input: map[string]any{"names": []any{"Ada", "Grace", "Edsger"}}}
	res, err := in.Run(context.Background(), ex)
	if err != nil {
		panic(err)
	}
	out, _ := json.Marshal(res.Output)
	fmt.Println(res.Status, string(out))

	history := journal.History("1")
	ex.History = history[:len(history)/2]
	counter := &countingInvoker{Invoker: greeter{}}
	in = &workflow.Interpreter{Journal: workflow.NewMemoryJournal(), Invoker: counter}
	if err := in.Journal.Append(context.Background(), "1", ex.History); err != nil {
		panic(err)
	}
	res, err = in.Run(context.Background(), ex)
	if err != nil {
		panic(err)
	}
	out, _ = json.Marshal(res.Output)
	fmt.Println(res.Status, string(out), "tasks invoked on resume:", counter.n)
	// Output:
	// SUCCEEDED ["hello, Ada","hello, Grace","hello, Edsger"]
	// SUCCEEDED ["hello, Ada","hello, Grace","hello, Edsger"] tasks invoked on resume: 2
}

type countingInvoker struct {
	workflow.Invoker
	n int
}

func (c *countingInvoker) Invoke(ctx context.Context, req workflow.TaskRequest) (any, error) {
	c.n++
	return c.Invoker.Invoke(ctx, req)
}
