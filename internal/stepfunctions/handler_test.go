package stepfunctions_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/velocity-ci/velocity/internal/executions"
	"github.com/velocity-ci/velocity/internal/stepfunctions"
	"github.com/velocity-ci/velocity/internal/store/sqlite"
)

// newClient is the AWS SDK's Step Functions client talking to a
// handler on a real SQLite journal; commands run in the returned
// directory.
func newClient(t *testing.T) (*sfn.Client, string) {
	t.Helper()
	ctx := context.Background()
	data, work := t.TempDir(), t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(data, "velocity.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc := executions.New(ctx, executions.Config{Store: st, DataDir: data, Poll: 20 * time.Millisecond})
	t.Cleanup(svc.Close)
	t.Cleanup(svc.Abandon) // runs first: executions still waiting end resumable
	srv := httptest.NewServer(&stepfunctions.Handler{Executions: svc, StateMachines: &executions.StateMachines{Store: st, Dir: work}})
	t.Cleanup(srv.Close)
	c := sfn.New(sfn.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
	}, noHostPrefix)
	return c, work
}

// noHostPrefix keeps the SDK from sending StartSyncExecution and
// TestState to the host "sync-" + the endpoint's, as it does for AWS's
// own endpoints (sync-states.REGION.amazonaws.com).
func noHostPrefix(o *sfn.Options) {
	o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("NoHostPrefix",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				return next.HandleInitialize(smithyhttp.DisableEndpointHostPrefix(ctx, true), in)
			}), middleware.Before)
	})
}

func createStateMachine(t *testing.T, c *sfn.Client, name, definition string) string {
	t.Helper()
	out, err := c.CreateStateMachine(context.Background(), &sfn.CreateStateMachineInput{
		Name: aws.String(name), Definition: aws.String(definition), RoleArn: aws.String("arn:aws:iam::123456789012:role/run"),
	})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.StateMachineArn)
}

// waitStatus describes the execution until it has status, or fails the
// test after 10s.
func waitStatus(t *testing.T, c *sfn.Client, arn string, status types.ExecutionStatus) *sfn.DescribeExecutionOutput {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		d, err := c.DescribeExecution(context.Background(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		if err != nil {
			t.Fatal(err)
		}
		if d.Status == status {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("execution %s is %s, not %s, after 10s", arn, d.Status, status)
		}
	}
}

const passThenCommand = `{"StartAt": "Greet", "States": {
	"Greet": {"Type": "Pass", "Parameters": {"who.$": "$.who"}, "Next": "Shout"},
	"Shout": {"Type": "Task", "Resource": "arn:velocity:command", "End": true,
		"Parameters": {"Input.$": "$.who", "Command": "printf '{\"shouted\": \"%s\"}' \"$(cat | tr -d \\\"\\\" | tr a-z A-Z)\""}}}}`

// A state machine created through the SDK is described and listed; an
// execution started by its ARN runs a Pass and a local command here,
// ends SUCCEEDED with the command's output, and its history is AWS's.
func TestCreateStartDescribeHistory(t *testing.T) {
	ctx := context.Background()
	c, _ := newClient(t)
	smARN := createStateMachine(t, c, "greet", passThenCommand)
	if smARN != "arn:aws:states:us-east-1:123456789012:stateMachine:greet" {
		t.Errorf("state machine ARN %s", smARN)
	}
	sm, err := c.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(smARN)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(sm.Name) != "greet" || aws.ToString(sm.Definition) != passThenCommand || sm.Status != types.StateMachineStatusActive || sm.CreationDate == nil {
		t.Errorf("described %+v", sm)
	}
	list, err := c.ListStateMachines(ctx, &sfn.ListStateMachinesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.StateMachines) != 1 || aws.ToString(list.StateMachines[0].StateMachineArn) != smARN {
		t.Errorf("listed %+v", list.StateMachines)
	}

	start, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(smARN), Name: aws.String("first"), Input: aws.String(`{"who": "world"}`)})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(start.ExecutionArn)
	if arn != "arn:aws:states:us-east-1:123456789012:execution:greet:first" || start.StartDate == nil {
		t.Errorf("started %s at %v", arn, start.StartDate)
	}
	d := waitStatus(t, c, arn, types.ExecutionStatusSucceeded)
	if got := aws.ToString(d.Output); got != `{"shouted":"WORLD"}` {
		t.Errorf("output %s", got)
	}
	if aws.ToString(d.StateMachineArn) != smARN || d.StopDate == nil || aws.ToString(d.Input) != `{"who":"world"}` {
		t.Errorf("described %+v", d)
	}

	h, err := c.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, ev := range h.Events {
		kinds = append(kinds, string(ev.Type))
		if ev.Timestamp == nil || ev.Timestamp.Year() < 2000 {
			t.Errorf("event %d has timestamp %v", ev.Id, ev.Timestamp)
		}
	}
	first, last := h.Events[0], h.Events[len(h.Events)-1]
	if first.Type != types.HistoryEventTypeExecutionStarted || first.ExecutionStartedEventDetails == nil ||
		last.Type != types.HistoryEventTypeExecutionSucceeded || last.ExecutionSucceededEventDetails == nil {
		t.Errorf("history %v", kinds)
	}
	if !strings.Contains(strings.Join(kinds, " "), "TaskSucceeded") {
		t.Errorf("history %v has no TaskSucceeded", kinds)
	}

	execs, err := c.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(smARN)})
	if err != nil {
		t.Fatal(err)
	}
	if len(execs.Executions) != 1 || aws.ToString(execs.Executions[0].ExecutionArn) != arn || execs.Executions[0].Status != types.ExecutionStatusSucceeded {
		t.Errorf("listed %+v", execs.Executions)
	}

	_, err = c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(smARN), Name: aws.String("first")})
	var exists *types.ExecutionAlreadyExists
	if !errors.As(err, &exists) {
		t.Errorf("second start of a name: %v, want ExecutionAlreadyExists", err)
	}
}

// A .waitForTaskToken task waits until SendTaskSuccess answers the token
// it was given; the execution carries on with the answer.
func TestTaskTokenRoundTrip(t *testing.T) {
	ctx := context.Background()
	c, work := newClient(t)
	smARN := createStateMachine(t, c, "approve", `{"StartAt": "Ask", "States": {
		"Ask": {"Type": "Task", "Resource": "arn:velocity:command.waitForTaskToken", "End": true,
			"Parameters": {"Command": "echo \"$VELOCITY_TASK_TOKEN\" > token"}}}}`)
	start, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(smARN)})
	if err != nil {
		t.Fatal(err)
	}
	token := readToken(t, work)
	if _, err := c.SendTaskHeartbeat(ctx, &sfn.SendTaskHeartbeatInput{TaskToken: aws.String(token)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(token), Output: aws.String(`{"approved": true}`)}); err != nil {
		t.Fatal(err)
	}
	d := waitStatus(t, c, aws.ToString(start.ExecutionArn), types.ExecutionStatusSucceeded)
	if aws.ToString(d.Output) != `{"approved":true}` {
		t.Errorf("output %s", aws.ToString(d.Output))
	}
	_, err = c.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String("no-such-token"), Output: aws.String(`{}`)})
	var gone *types.TaskDoesNotExist
	if !errors.As(err, &gone) {
		t.Errorf("unknown token: %v, want TaskDoesNotExist", err)
	}
}

// StopExecution aborts a running execution with the error and cause
// given.
func TestStopExecution(t *testing.T) {
	ctx := context.Background()
	c, _ := newClient(t)
	smARN := createStateMachine(t, c, "slow", `{"StartAt": "Hold", "States": {
		"Hold": {"Type": "Task", "Resource": "arn:velocity:command", "End": true, "Parameters": {"Command": "exec sleep 60"}}}}`)
	start, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(smARN), Name: aws.String("held")})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(start.ExecutionArn)
	waitStatus(t, c, arn, types.ExecutionStatusRunning)
	stop, err := c.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: aws.String(arn), Error: aws.String("Enough"), Cause: aws.String("by hand")})
	if err != nil {
		t.Fatal(err)
	}
	if stop.StopDate == nil {
		t.Error("no stop date")
	}
	d := waitStatus(t, c, arn, types.ExecutionStatusAborted)
	if aws.ToString(d.Error) != "Enough" || aws.ToString(d.Cause) != "by hand" {
		t.Errorf("stopped with %q %q", aws.ToString(d.Error), aws.ToString(d.Cause))
	}
}

// Mistakes come back as the SDK's typed errors, as from Step Functions.
func TestErrors(t *testing.T) {
	ctx := context.Background()
	c, _ := newClient(t)
	_, err := c.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String("arn:aws:states:us-east-1:123456789012:execution:none:x")})
	var noExec *types.ExecutionDoesNotExist
	if !errors.As(err, &noExec) {
		t.Errorf("unknown execution: %v", err)
	}
	_, err = c.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String("arn:aws:states:us-east-1:123456789012:execution:none:x")})
	if !errors.As(err, &noExec) {
		t.Errorf("history of an unknown execution: %v", err)
	}
	_, err = c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String("arn:aws:states:us-east-1:123456789012:stateMachine:none")})
	var noSM *types.StateMachineDoesNotExist
	if !errors.As(err, &noSM) {
		t.Errorf("start of an unknown state machine: %v", err)
	}
	_, err = c.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String("not-an-arn")})
	var badARN *types.InvalidArn
	if !errors.As(err, &badARN) {
		t.Errorf("bad ARN: %v", err)
	}
	_, err = c.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("bad"), Definition: aws.String(`{"StartAt": "Nowhere", "States": {}}`), RoleArn: aws.String("r")})
	var badDef *types.InvalidDefinition
	if !errors.As(err, &badDef) {
		t.Errorf("bad definition: %v", err)
	}
	createStateMachine(t, c, "twice", passThenCommand)
	_, err = c.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("twice"), Definition: aws.String(passThenCommand), RoleArn: aws.String("r")})
	var exists *types.StateMachineAlreadyExists
	if !errors.As(err, &exists) {
		t.Errorf("second create: %v", err)
	}
}

// ValidateStateMachineDefinition reports the checker's problems as
// diagnostics, and OK for a good definition.
func TestValidateDefinition(t *testing.T) {
	ctx := context.Background()
	c, _ := newClient(t)
	ok, err := c.ValidateStateMachineDefinition(ctx, &sfn.ValidateStateMachineDefinitionInput{Definition: aws.String(passThenCommand)})
	if err != nil {
		t.Fatal(err)
	}
	if ok.Result != types.ValidateStateMachineDefinitionResultCodeOk {
		t.Errorf("good definition: %s %+v", ok.Result, ok.Diagnostics)
	}
	bad, err := c.ValidateStateMachineDefinition(ctx, &sfn.ValidateStateMachineDefinitionInput{Definition: aws.String(`{"StartAt": "Nowhere", "States": {}}`)})
	if err != nil {
		t.Fatal(err)
	}
	if bad.Result != types.ValidateStateMachineDefinitionResultCodeFail || len(bad.Diagnostics) == 0 {
		t.Errorf("bad definition: %s %+v", bad.Result, bad.Diagnostics)
	}
	b, _ := json.Marshal(bad.Diagnostics)
	t.Logf("diagnostics %s", b)
}

// A task that fails through SendTaskFailure fails the execution; a
// redrive runs it again from that task with the state machine's
// definition as it was started, and UpdateStateMachine changes what new
// executions run. DeleteStateMachine forgets it.
func TestFailRedriveUpdateDelete(t *testing.T) {
	ctx := context.Background()
	c, work := newClient(t)
	smARN := createStateMachine(t, c, "review", `{"StartAt": "Ask", "States": {
		"Ask": {"Type": "Task", "Resource": "arn:velocity:command.waitForTaskToken", "End": true,
			"Parameters": {"Command": "echo \"$VELOCITY_TASK_TOKEN\" > token"}}}}`)
	start, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(smARN), Name: aws.String("one")})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(start.ExecutionArn)
	token := readToken(t, work)
	if _, err := c.SendTaskFailure(ctx, &sfn.SendTaskFailureInput{TaskToken: aws.String(token), Error: aws.String("Rejected"), Cause: aws.String("no")}); err != nil {
		t.Fatal(err)
	}
	d := waitStatus(t, c, arn, types.ExecutionStatusFailed)
	if aws.ToString(d.Error) != "Rejected" || aws.ToString(d.Cause) != "no" {
		t.Errorf("failed with %q %q", aws.ToString(d.Error), aws.ToString(d.Cause))
	}

	os.Remove(filepath.Join(work, "token"))
	if _, err := c.RedriveExecution(ctx, &sfn.RedriveExecutionInput{ExecutionArn: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	token = readToken(t, work)
	if _, err := c.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(token), Output: aws.String(`{"ok": 1}`)}); err != nil {
		t.Fatal(err)
	}
	d = waitStatus(t, c, arn, types.ExecutionStatusSucceeded)
	if d.RedriveCount == nil || *d.RedriveCount != 1 {
		t.Errorf("redrive count %v", d.RedriveCount)
	}
	_, err = c.RedriveExecution(ctx, &sfn.RedriveExecutionInput{ExecutionArn: aws.String(arn)})
	var notRedrivable *types.ExecutionNotRedrivable
	if !errors.As(err, &notRedrivable) {
		t.Errorf("redrive of a success: %v", err)
	}

	if _, err := c.UpdateStateMachine(ctx, &sfn.UpdateStateMachineInput{StateMachineArn: aws.String(smARN),
		Definition: aws.String(`{"StartAt": "Done", "States": {"Done": {"Type": "Pass", "Result": {"updated": true}, "End": true}}}`)}); err != nil {
		t.Fatal(err)
	}
	two, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(smARN)})
	if err != nil {
		t.Fatal(err)
	}
	if d := waitStatus(t, c, aws.ToString(two.ExecutionArn), types.ExecutionStatusSucceeded); aws.ToString(d.Output) != `{"updated":true}` {
		t.Errorf("updated state machine's output %s", aws.ToString(d.Output))
	}

	if _, err := c.DeleteStateMachine(ctx, &sfn.DeleteStateMachineInput{StateMachineArn: aws.String(smARN)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(smARN)})
	var gone *types.StateMachineDoesNotExist
	if !errors.As(err, &gone) {
		t.Errorf("describe after delete: %v", err)
	}
}

// readToken waits for the token a task wrote to work/token.
func readToken(t *testing.T, work string) string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		b, _ := os.ReadFile(filepath.Join(work, "token"))
		if token := strings.TrimSpace(string(b)); token != "" {
			return token
		}
		if time.Now().After(deadline) {
			t.Fatal("the task wrote no token in 10s")
		}
	}
}
