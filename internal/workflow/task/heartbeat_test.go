package task

import (
	"context"
	"testing"

	"github.com/velocity-ci/velocity/internal/workflow"
	"github.com/velocity-ci/velocity/internal/workflow/asl"
)

// runHeartbeatTask runs one command Task with HeartbeatSeconds 1 through
// the interpreter and returns the execution's result.
func runHeartbeatTask(t *testing.T, script string) workflow.Result {
	t.Helper()
	sm, err := asl.Load("test.json", []byte(`{"StartAt": "T", "States": {"T": {"Type": "Task",
	  "Resource": "arn:velocity:command", "Parameters": {"Command": `+asJSON(t, script)+`},
	  "TimeoutSeconds": 30, "HeartbeatSeconds": 1, "End": true}}}`))
	if err != nil {
		t.Fatal(err)
	}
	in := &workflow.Interpreter{Journal: workflow.NewMemoryJournal(), Invoker: &Resources{Dir: t.TempDir()}}
	res, err := in.Run(context.Background(), workflow.Execution{ID: "e", Definition: sm, Input: mustJSON(t, `{}`)})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestCommandStderrIsAHeartbeat: a command task with HeartbeatSeconds
// runs longer than that as long as it writes to stderr more often; it
// is told the interval in $VELOCITY_HEARTBEAT_SECONDS.
func TestCommandStderrIsAHeartbeat(t *testing.T) {
	res := runHeartbeatTask(t, `for i in 1 2 3 4 5 6; do echo "step $i of $VELOCITY_HEARTBEAT_SECONDS" >&2; sleep 0.4; done; echo '{"done": true}'`)
	if res.Status != workflow.StatusSucceeded {
		t.Fatalf("a command writing to stderr every 0.4s failed with HeartbeatSeconds 1: %+v", res)
	}
}

// TestSilentCommandMissesItsHeartbeat: a command that writes nothing to
// stderr for HeartbeatSeconds fails with States.Timeout, as a task whose
// heartbeats stop does on Step Functions.
func TestSilentCommandMissesItsHeartbeat(t *testing.T) {
	res := runHeartbeatTask(t, `echo started >&2; sleep 3; echo '{}'`)
	if res.Status != workflow.StatusFailed || res.Error != asl.ErrTimeout {
		t.Fatalf("a command silent for 3s with HeartbeatSeconds 1: %+v, want FAILED with States.Timeout", res)
	}
}
