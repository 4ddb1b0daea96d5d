package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// A workflow execution started through node A's Step Functions API,
// whose node is killed with SIGKILL while the execution waits, is
// finished by node B once its lease expired: from its history, so the
// task that finished before the kill does not run again, and no state is
// entered twice.
func TestNodeTakesOverTheWorkflowExecutionOfADeadNode(t *testing.T) {
	_, tokens := cluster(t)
	marks := filepath.Join(t.TempDir(), "marks")
	a := startNode(t)
	a.tokens = tokens
	b := startNode(t)
	b.tokens = tokens

	ca := sfnClient(a.api, tokens["developer"])
	smARN := createMachine(t, ca, "nap", `{"StartAt": "Mark", "States": {
		"Mark": {"Type": "Task", "Resource": "arn:velocity:command", "Next": "Nap",
			"Parameters": {"Command": "echo ran >> `+marks+`; echo '{\"marked\": true}'"}},
		"Nap": {"Type": "Wait", "Seconds": 6, "Next": "Done"},
		"Done": {"Type": "Pass", "End": true}}}`)
	arn := startExecution(t, ca, smARN, "napping", `{}`)
	// The mark is journaled once the Wait is entered.
	for deadline := time.Now().Add(20 * time.Second); enteredStates(t, ca, arn)["Nap"] == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the execution never reached its Wait; node A:\n%s", a.out)
		}
	}
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-a.done
	killed := time.Now()
	// Node A's data directory, with the execution's lock file, is on its
	// own machine: node B takes over with the journal alone.
	if err := os.RemoveAll(a.env.home); err != nil {
		t.Fatal(err)
	}

	said := "velocity: workflow execution napping lost its node; taken over here"
	for deadline := killed.Add(nodeLeaseTTL + 20*time.Second); !strings.Contains(b.out.String(), said); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("node B did not take the execution over %v after node A died; node B:\n%s", time.Since(killed), b.out)
		}
	}
	took := time.Since(killed)
	cb := sfnClient(b.api, tokens["developer"])
	d := executionStatus(t, cb, arn, types.ExecutionStatusSucceeded, 30*time.Second)
	t.Logf("node A killed; node B took the execution over %v later and finished it %v later",
		took.Round(100*time.Millisecond), time.Since(killed).Round(100*time.Millisecond))
	if aws.ToString(d.Output) != `{"marked":true}` {
		t.Errorf("output through node B %s", aws.ToString(d.Output))
	}
	if got := strings.Fields(readFile(t, marks)); len(got) != 1 {
		t.Errorf("the task ran %d times, want once", len(got))
	}
	entered := enteredStates(t, cb, arn)
	for _, state := range []string{"Mark", "Nap", "Done"} {
		if entered[state] != 1 {
			t.Errorf("state %s entered %d times; want once (history %v)", state, entered[state], entered)
		}
	}
}

// enteredStates counts, by state name, the states an execution's
// history (GetExecutionHistory) entered.
func enteredStates(t *testing.T, c *sfn.Client, arn string) map[string]int {
	t.Helper()
	n := map[string]int{}
	for p := sfn.NewGetExecutionHistoryPaginator(c, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn)}); p.HasMorePages(); {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("GetExecutionHistory %s: %v", arn, err)
		}
		for _, ev := range page.Events {
			if d := ev.StateEnteredEventDetails; d != nil {
				n[aws.ToString(d.Name)]++
			}
		}
	}
	return n
}
