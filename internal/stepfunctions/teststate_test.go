package stepfunctions_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"
)

// TestState runs one state with an input and tells its output, the
// state it goes to and, at DEBUG, how it processed its data.
func TestTestState(t *testing.T) {
	ctx := context.Background()
	c, _ := newClient(t)
	test := func(in *sfn.TestStateInput) *sfn.TestStateOutput {
		t.Helper()
		if in.RoleArn == nil {
			in.RoleArn = aws.String("arn:aws:iam::123456789012:role/test")
		}
		out, err := c.TestState(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	pass := test(&sfn.TestStateInput{
		Definition: aws.String(`{"Type": "Pass", "InputPath": "$.order", "Parameters": {"id.$": "$.id"}, "ResultPath": "$.picked", "Next": "Ship"}`),
		Input:      aws.String(`{"order": {"id": 7, "qty": 2}}`), InspectionLevel: types.InspectionLevelDebug,
	})
	if pass.Status != types.TestExecutionStatusSucceeded || aws.ToString(pass.NextState) != "Ship" ||
		aws.ToString(pass.Output) != `{"order":{"id":7,"qty":2},"picked":{"id":7}}` {
		t.Errorf("pass: %s next %q output %s", pass.Status, aws.ToString(pass.NextState), aws.ToString(pass.Output))
	}
	if d := pass.InspectionData; d == nil || aws.ToString(d.Input) != `{"order":{"id":7,"qty":2}}` || aws.ToString(d.AfterInputPath) != `{"id":7,"qty":2}` ||
		aws.ToString(d.AfterParameters) != `{"id":7}` || aws.ToString(d.AfterResultPath) != aws.ToString(pass.Output) {
		t.Errorf("pass inspection %+v", pass.InspectionData)
	}

	choice := test(&sfn.TestStateInput{
		Definition: aws.String(`{"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThan": 3, "Next": "Big"}], "Default": "Small"}`),
		Input:      aws.String(`{"n": 5}`),
	})
	if choice.Status != types.TestExecutionStatusSucceeded || aws.ToString(choice.NextState) != "Big" || aws.ToString(choice.Output) != `{"n":5}` || choice.InspectionData != nil {
		t.Errorf("choice: %s next %q output %s inspection %+v", choice.Status, aws.ToString(choice.NextState), aws.ToString(choice.Output), choice.InspectionData)
	}

	command := test(&sfn.TestStateInput{
		Definition: aws.String(`{"Type": "Task", "Resource": "arn:velocity:command", "Parameters": {"Command": "echo '{\"n\": 41}'"},
			"ResultSelector": {"answer.$": "States.MathAdd($.n, 1)"}, "End": true}`),
		InspectionLevel: types.InspectionLevelDebug,
	})
	if command.Status != types.TestExecutionStatusSucceeded || aws.ToString(command.Output) != `{"answer":42}` || command.NextState != nil {
		t.Errorf("command: %s output %s next %v error %s", command.Status, aws.ToString(command.Output), command.NextState, aws.ToString(command.Cause))
	}
	if d := command.InspectionData; d == nil || aws.ToString(d.Result) != `{"n":41}` || aws.ToString(d.AfterResultSelector) != `{"answer":42}` {
		t.Errorf("command inspection %+v", command.InspectionData)
	}

	fail := test(&sfn.TestStateInput{Definition: aws.String(`{"Type": "Fail", "Error": "Nope", "Cause": "on purpose"}`)})
	if fail.Status != types.TestExecutionStatusFailed || aws.ToString(fail.Error) != "Nope" || aws.ToString(fail.Cause) != "on purpose" || fail.Output != nil {
		t.Errorf("fail: %s %q %q output %v", fail.Status, aws.ToString(fail.Error), aws.ToString(fail.Cause), fail.Output)
	}

	// A failing task: retried, caught, or failed.
	failing := `{"Type": "Task", "Resource": "arn:velocity:command", "Parameters": {"Command": "echo broken >&2; exit 3"}, "End": true`
	failed := test(&sfn.TestStateInput{Definition: aws.String(failing + `}`)})
	if failed.Status != types.TestExecutionStatusFailed || aws.ToString(failed.Error) == "" {
		t.Errorf("failed task: %s %q %q", failed.Status, aws.ToString(failed.Error), aws.ToString(failed.Cause))
	}
	retried := test(&sfn.TestStateInput{
		Definition:         aws.String(failing + `, "Retry": [{"ErrorEquals": ["Other"]}, {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 2, "BackoffRate": 3}]}`),
		StateConfiguration: &types.TestStateConfiguration{RetrierRetryCount: aws.Int32(1)},
	})
	if d := retried.InspectionData; retried.Status != types.TestExecutionStatusRetriable || d == nil || d.ErrorDetails == nil ||
		aws.ToInt32(d.ErrorDetails.RetryIndex) != 1 || aws.ToInt32(d.ErrorDetails.RetryBackoffIntervalSeconds) != 6 {
		t.Errorf("retried task: %s %+v", retried.Status, retried.InspectionData)
	}
	caught := test(&sfn.TestStateInput{
		Definition: aws.String(failing + `, "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 1}],
			"Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Recover"}]}`),
		Input:              aws.String(`{"keep": true}`),
		StateConfiguration: &types.TestStateConfiguration{RetrierRetryCount: aws.Int32(1)},
	})
	if caught.Status != types.TestExecutionStatusCaughtError || aws.ToString(caught.NextState) != "Recover" ||
		aws.ToString(caught.Error) != aws.ToString(failed.Error) || caught.InspectionData == nil || caught.InspectionData.ErrorDetails == nil ||
		aws.ToInt32(caught.InspectionData.ErrorDetails.CatchIndex) != 0 {
		t.Errorf("caught task: %s next %q error %q %+v", caught.Status, aws.ToString(caught.NextState), aws.ToString(caught.Error), caught.InspectionData)
	}
	if want := `{"keep":true,"error":{"Error":"` + aws.ToString(failed.Error) + `","Cause":`; len(aws.ToString(caught.Output)) < len(want) || aws.ToString(caught.Output)[:len(want)] != want {
		t.Errorf("caught output %s, want it to start %s", aws.ToString(caught.Output), want)
	}

	// A mock answers instead of the resource.
	mocked := test(&sfn.TestStateInput{
		Definition: aws.String(`{"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true}`),
		Mock:       &types.MockInput{Result: aws.String(`{"StatusCode": 200}`)},
	})
	if mocked.Status != types.TestExecutionStatusSucceeded || aws.ToString(mocked.Output) != `{"StatusCode":200}` {
		t.Errorf("mocked: %s %s %s", mocked.Status, aws.ToString(mocked.Output), aws.ToString(mocked.Cause))
	}
	mockedFailure := test(&sfn.TestStateInput{
		Definition: aws.String(`{"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true}`),
		Mock:       &types.MockInput{ErrorOutput: &types.MockErrorOutput{Error: aws.String("Lambda.ServiceException"), Cause: aws.String("down")}},
	})
	if mockedFailure.Status != types.TestExecutionStatusFailed || aws.ToString(mockedFailure.Error) != "Lambda.ServiceException" {
		t.Errorf("mocked failure: %s %s", mockedFailure.Status, aws.ToString(mockedFailure.Error))
	}

	// Variables given are seen, and those assigned reported.
	vars := test(&sfn.TestStateInput{
		Definition:      aws.String(`{"Type": "Pass", "Parameters": {"greeting.$": "$hello"}, "Assign": {"seen.$": "$.greeting"}, "End": true}`),
		Variables:       aws.String(`{"hello": "hi"}`),
		InspectionLevel: types.InspectionLevelTrace,
	})
	if aws.ToString(vars.Output) != `{"greeting":"hi"}` || vars.InspectionData == nil || aws.ToString(vars.InspectionData.Variables) != `{"hello":"hi","seen":"hi"}` {
		t.Errorf("variables: %s %s %+v", vars.Status, aws.ToString(vars.Output), vars.InspectionData)
	}

	// One state of a whole state machine, by name.
	named := test(&sfn.TestStateInput{Definition: aws.String(passThenCommand), StateName: aws.String("Greet"), Input: aws.String(`{"who": "you", "other": 1}`)})
	if named.Status != types.TestExecutionStatusSucceeded || aws.ToString(named.NextState) != "Shout" || aws.ToString(named.Output) != `{"who":"you"}` {
		t.Errorf("named state: %s next %q output %s", named.Status, aws.ToString(named.NextState), aws.ToString(named.Output))
	}

	_, err := c.TestState(ctx, &sfn.TestStateInput{Definition: aws.String(`{"Type": "Pass", "Next": 3}`), RoleArn: aws.String("r")})
	var badDef *types.InvalidDefinition
	if !errors.As(err, &badDef) {
		t.Errorf("bad definition: %v, want InvalidDefinition", err)
	}
	_, err = c.TestState(ctx, &sfn.TestStateInput{Definition: aws.String(`{"Type": "Parallel", "Branches": [{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}], "End": true}`)})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ValidationException" {
		t.Errorf("parallel: %v, want ValidationException", err)
	}
}
