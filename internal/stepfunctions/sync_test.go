package stepfunctions_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"
)

func createExpress(t *testing.T, c *sfn.Client, name, definition string) string {
	t.Helper()
	out, err := c.CreateStateMachine(context.Background(), &sfn.CreateStateMachineInput{
		Name: aws.String(name), Definition: aws.String(definition), RoleArn: aws.String("arn:aws:iam::123456789012:role/run"),
		Type: types.StateMachineTypeExpress,
	})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.StateMachineArn)
}

// StartSyncExecution runs an EXPRESS state machine's execution to its
// end and answers with its outcome; the state machine keeps its type.
func TestStartSyncExecution(t *testing.T) {
	ctx := context.Background()
	c, _ := newClient(t)
	smARN := createExpress(t, c, "shout", passThenCommand)
	sm, err := c.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(smARN)})
	if err != nil || sm.Type != types.StateMachineTypeExpress {
		t.Fatalf("described %v, %v: want EXPRESS", sm, err)
	}
	list, err := c.ListStateMachines(ctx, &sfn.ListStateMachinesInput{})
	if err != nil || len(list.StateMachines) != 1 || list.StateMachines[0].Type != types.StateMachineTypeExpress {
		t.Fatalf("listed %+v, %v: want one EXPRESS", list, err)
	}

	out, err := c.StartSyncExecution(ctx, &sfn.StartSyncExecutionInput{StateMachineArn: aws.String(smARN), Name: aws.String("now"), Input: aws.String(`{"who": "sync"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != types.SyncExecutionStatusSucceeded || aws.ToString(out.Output) != `{"shouted":"SYNC"}` ||
		aws.ToString(out.ExecutionArn) != "arn:aws:states:us-east-1:123456789012:execution:shout:now" ||
		aws.ToString(out.StateMachineArn) != smARN || aws.ToString(out.Name) != "now" || aws.ToString(out.Input) != `{"who":"sync"}` ||
		out.StartDate == nil || out.StopDate == nil || out.StopDate.Before(*out.StartDate) || out.OutputDetails == nil || !out.OutputDetails.Included {
		t.Errorf("answered %+v", out)
	}
	// It is an execution like any other.
	if d := waitStatus(t, c, aws.ToString(out.ExecutionArn), types.ExecutionStatusSucceeded); aws.ToString(d.Output) != `{"shouted":"SYNC"}` {
		t.Errorf("described output %s", aws.ToString(d.Output))
	}

	failARN := createExpress(t, c, "refuse", `{"StartAt": "No", "States": {"No": {"Type": "Fail", "Error": "Refused", "Cause": "not today"}}}`)
	failed, err := c.StartSyncExecution(ctx, &sfn.StartSyncExecutionInput{StateMachineArn: aws.String(failARN)})
	if err != nil {
		t.Fatal(err)
	}
	if failed.Status != types.SyncExecutionStatusFailed || aws.ToString(failed.Error) != "Refused" || aws.ToString(failed.Cause) != "not today" || failed.Output != nil {
		t.Errorf("failure answered %+v", failed)
	}

	stdARN := createStateMachine(t, c, "standard", passThenCommand)
	_, err = c.StartSyncExecution(ctx, &sfn.StartSyncExecutionInput{StateMachineArn: aws.String(stdARN)})
	var notSupported *types.StateMachineTypeNotSupported
	if !errors.As(err, &notSupported) {
		t.Errorf("sync start of a STANDARD state machine: %v, want StateMachineTypeNotSupported", err)
	}
	_, err = c.StartSyncExecution(ctx, &sfn.StartSyncExecutionInput{StateMachineArn: aws.String("arn:aws:states:us-east-1:123456789012:stateMachine:none")})
	var noSM *types.StateMachineDoesNotExist
	if !errors.As(err, &noSM) {
		t.Errorf("sync start of an unknown state machine: %v", err)
	}
	_, err = c.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("odd"), Definition: aws.String(passThenCommand),
		RoleArn: aws.String("r"), Type: types.StateMachineType("QUICK")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ValidationException" {
		t.Errorf("type QUICK: %v, want ValidationException", err)
	}
}

// A caller that gives up waiting stops waiting, not the execution.
func TestStartSyncExecutionOutlivesItsCaller(t *testing.T) {
	c, _ := newClient(t)
	smARN := createExpress(t, c, "nap", `{"StartAt": "Nap", "States": {
		"Nap": {"Type": "Task", "Resource": "arn:velocity:command", "End": true, "Parameters": {"Command": "sleep 1; echo '{\"slept\": true}'"}}}}`)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := c.StartSyncExecution(ctx, &sfn.StartSyncExecutionInput{StateMachineArn: aws.String(smARN), Name: aws.String("napping")})
	if err == nil {
		t.Fatal("answered before the execution ended")
	}
	d := waitStatus(t, c, "arn:aws:states:us-east-1:123456789012:execution:nap:napping", types.ExecutionStatusSucceeded)
	if aws.ToString(d.Output) != `{"slept":true}` {
		t.Errorf("output %s", aws.ToString(d.Output))
	}
}
