package task

import (
	"strings"
	"testing"
	"time"
)

func TestDescribeChildSyncAndSync2(t *testing.T) {
	c := ChildExecution{
		ARN: "arn:aws:states:us-east-1:123456789012:execution:child:c1", Name: "c1",
		StateMachineARN: "arn:aws:states:us-east-1:123456789012:stateMachine:child", Status: "SUCCEEDED",
		Input: []byte(`{"a":1}`), Output: []byte(`{"b":[1,2]}`),
		Start: time.UnixMilli(1700000000123), Stop: time.UnixMilli(1700000001456),
	}
	v1, err := describe(c, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := asJSON(t, v1); got != `{"ExecutionArn":"arn:aws:states:us-east-1:123456789012:execution:child:c1","Input":"{\"a\":1}","InputDetails":{"Included":true},"Name":"c1","Output":"{\"b\":[1,2]}","OutputDetails":{"Included":true},"StartDate":1700000000123,"StateMachineArn":"arn:aws:states:us-east-1:123456789012:stateMachine:child","Status":"SUCCEEDED","StopDate":1700000001456}` {
		t.Errorf(".sync: %s", got)
	}
	v2, _ := describe(c, true)
	if got := asJSON(t, member(v2, "Output")); got != `{"b":[1,2]}` {
		t.Errorf(".sync:2 Output %s", got)
	}
	c.Status, c.Output, c.Error, c.Cause = "FAILED", nil, "Item.Corrupt", "bad"
	failed, _ := describe(c, true)
	if member(failed, "Error") != "Item.Corrupt" || member(failed, "Cause") != "bad" || failed.Has("Output") {
		t.Errorf("failed child %v", failed)
	}
}

func TestStartExecutionNeedsADefinition(t *testing.T) {
	r := &Resources{Dir: t.TempDir(), Children: refuseChildren{}}
	_, err := invoke(t, r, startExecution+".sync:2", map[string]any{"StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:missing"})
	f := failure(t, err)
	if f.Name != "StepFunctions.StateMachineDoesNotExistException" || !strings.Contains(f.Cause, "missing.asl.json") {
		t.Errorf("%+v", f)
	}
	_, err = invoke(t, r, startExecution+".waitForTaskToken2", map[string]any{})
	if f := failure(t, err); !strings.Contains(f.Cause, "not a startExecution pattern") {
		t.Errorf("%+v", f)
	}
}

// refuseChildren is never reached by the cases above: they fail before.
type refuseChildren struct{ Children }
