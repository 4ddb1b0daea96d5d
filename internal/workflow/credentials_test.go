package workflow_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/velocity-ci/velocity/internal/workflow"
	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

// credentialsInvoker records the Credentials of each task request.
type credentialsInvoker struct {
	mu    sync.Mutex
	calls []any
}

func (c *credentialsInvoker) Invoke(_ context.Context, req workflow.TaskRequest) (any, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, req.Credentials)
	return map[string]any{"ok": true}, nil
}

// TestTaskCredentialsReachTheResource evaluates a Task's Credentials
// against the state's input (after InputPath, as Parameters is), hands
// the value to the resource and records the role in TaskScheduled's
// taskCredentials, as Step Functions does.
func TestTaskCredentialsReachTheResource(t *testing.T) {
	sm := load(t, `{"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:listBuckets",
	  "InputPath": "$.in", "Parameters": {"other": 1},
	  "Credentials": {"RoleArn.$": "$.role"}, "End": true}}}`)
	inv := &credentialsInvoker{}
	journal := workflow.NewMemoryJournal()
	in := &workflow.Interpreter{Journal: journal, Invoker: inv}
	res, err := in.Run(context.Background(), workflow.Execution{ID: "e", Definition: sm,
		Input: decode(t, `{"in": {"role": "arn:aws:iam::111122223333:role/Target"}}`)})
	if err != nil || res.Status != workflow.StatusSucceeded {
		t.Fatalf("%v %+v", err, res)
	}
	if len(inv.calls) != 1 {
		t.Fatalf("the resource ran %d times, want 1", len(inv.calls))
	}
	got, err := jsonvalue.Marshal(inv.calls[0])
	if err != nil || string(got) != `{"RoleArn":"arn:aws:iam::111122223333:role/Target"}` {
		t.Errorf("Credentials = %s (%v), want the evaluated template", got, err)
	}
	var sched struct {
		TaskCredentials struct {
			RoleArn string `json:"roleArn"`
		} `json:"taskCredentials"`
	}
	for _, e := range journal.History("e") {
		if e.Type == workflow.TaskScheduled {
			_ = json.Unmarshal(e.Details, &sched)
		}
	}
	if sched.TaskCredentials.RoleArn != "arn:aws:iam::111122223333:role/Target" {
		t.Errorf("TaskScheduled taskCredentials.roleArn = %q", sched.TaskCredentials.RoleArn)
	}
}

// TestTaskCredentialsPathFailureFailsTheState: a Credentials path that
// selects nothing fails the state with States.Runtime before the task is
// scheduled, as a Parameters path does; the resource never runs.
func TestTaskCredentialsPathFailureFailsTheState(t *testing.T) {
	sm := load(t, `{"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:listBuckets",
	  "Credentials": {"RoleArn.$": "$.missing"}, "End": true}}}`)
	inv := &credentialsInvoker{}
	journal := workflow.NewMemoryJournal()
	in := &workflow.Interpreter{Journal: journal, Invoker: inv}
	res, err := in.Run(context.Background(), workflow.Execution{ID: "e", Definition: sm, Input: decode(t, `{}`)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != workflow.StatusFailed || res.Error != "States.Runtime" || !strings.Contains(res.Cause, "$.missing") {
		t.Errorf("result %+v, want FAILED with States.Runtime naming the path", res)
	}
	if len(inv.calls) != 0 {
		t.Errorf("the resource ran %d times, want never", len(inv.calls))
	}
	for _, e := range journal.History("e") {
		if e.Type == workflow.TaskScheduled {
			t.Errorf("a TaskScheduled event was recorded for a task whose Credentials failed")
		}
	}
}

// TestJSONataTaskCredentials: in JSONata, Credentials holds expressions
// reading $states.input; an expression that fails fails the state with
// States.QueryEvaluationError.
func TestJSONataTaskCredentials(t *testing.T) {
	sm := load(t, `{"QueryLanguage": "JSONata", "StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:listBuckets",
	  "Credentials": {"RoleArn": "{% $states.input.role %}"}, "Next": "U"},
	  "U": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:listBuckets",
	  "Credentials": {"RoleArn": "{% $error('no role') %}"}, "End": true}}}`)
	inv := &credentialsInvoker{}
	in := &workflow.Interpreter{Journal: workflow.NewMemoryJournal(), Invoker: inv}
	res, err := in.Run(context.Background(), workflow.Execution{ID: "e", Definition: sm,
		Input: decode(t, `{"role": "arn:aws:iam::111122223333:role/Target"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != workflow.StatusFailed || res.Error != "States.QueryEvaluationError" {
		t.Errorf("result %+v, want U to fail with States.QueryEvaluationError", res)
	}
	if len(inv.calls) != 1 {
		t.Fatalf("the resource ran %d times, want once (T only)", len(inv.calls))
	}
	got, _ := jsonvalue.Marshal(inv.calls[0])
	if string(got) != `{"RoleArn":"arn:aws:iam::111122223333:role/Target"}` {
		t.Errorf("Credentials = %s, want the evaluated template", got)
	}
}
