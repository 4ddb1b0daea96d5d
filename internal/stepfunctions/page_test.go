package stepfunctions_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"
)

// The SDK's paginators walk state machines, executions and histories a
// page at a time; each item comes once, in order.
func TestPaging(t *testing.T) {
	ctx := context.Background()
	c, _ := newClient(t)
	for _, name := range []string{"c", "a", "b"} {
		createStateMachine(t, c, name, `{"StartAt": "P", "States": {"P": {"Type": "Pass", "Next": "Q"}, "Q": {"Type": "Pass", "End": true}}}`)
	}
	var machines []string
	pages := 0
	for p := sfn.NewListStateMachinesPaginator(c, &sfn.ListStateMachinesInput{MaxResults: 2}); p.HasMorePages(); pages++ {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.StateMachines {
			machines = append(machines, aws.ToString(m.Name))
		}
	}
	if !slices.Equal(machines, []string{"a", "b", "c"}) || pages != 2 {
		t.Errorf("state machines %v in %d pages, want a b c in 2", machines, pages)
	}

	smARN := "arn:aws:states:us-east-1:123456789012:stateMachine:a"
	var started []string
	for i := range 5 {
		name := fmt.Sprintf("run-%d", i)
		out, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(smARN), Name: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		waitStatus(t, c, aws.ToString(out.ExecutionArn), types.ExecutionStatusSucceeded)
		started = append(started, name)
	}
	var listed []string
	pages = 0
	for p := sfn.NewListExecutionsPaginator(c, &sfn.ListExecutionsInput{StateMachineArn: aws.String(smARN), MaxResults: 2}); p.HasMorePages(); pages++ {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range out.Executions {
			listed = append(listed, aws.ToString(e.Name))
		}
	}
	slices.Reverse(started)
	if !slices.Equal(listed, started) || pages != 3 {
		t.Errorf("executions %v in %d pages, want %v (newest first) in 3", listed, pages, started)
	}

	arn := "arn:aws:states:us-east-1:123456789012:execution:a:run-0"
	whole, err := c.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	for _, reverse := range []bool{false, true} {
		var ids []int64
		for p := sfn.NewGetExecutionHistoryPaginator(c, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), MaxResults: 3, ReverseOrder: reverse}); p.HasMorePages(); {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Events) > 3 {
				t.Errorf("a page of %d events, asked for 3", len(out.Events))
			}
			for _, ev := range out.Events {
				ids = append(ids, ev.Id)
			}
		}
		var want []int64
		for _, ev := range whole.Events {
			want = append(want, ev.Id)
		}
		if reverse {
			slices.Reverse(want)
		}
		if !slices.Equal(ids, want) || len(want) < 6 {
			t.Errorf("reverse %v: events %v, want %v", reverse, ids, want)
		}
	}

	// A token that is not one, or one of another listing, is InvalidToken.
	first, err := c.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(smARN), MaxResults: 1})
	if err != nil || first.NextToken == nil {
		t.Fatalf("first page: %v, token %v", err, first)
	}
	var invalid *types.InvalidToken
	for what, call := range map[string]func() error{
		"garbage": func() error {
			_, err := c.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(smARN), NextToken: aws.String("not-a-token")})
			return err
		},
		"another state machine's": func() error {
			_, err := c.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String("arn:aws:states:us-east-1:123456789012:stateMachine:b"), NextToken: first.NextToken})
			return err
		},
		"another action's": func() error {
			_, err := c.ListStateMachines(ctx, &sfn.ListStateMachinesInput{NextToken: first.NextToken})
			return err
		},
		"history's": func() error {
			_, err := c.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), NextToken: first.NextToken})
			return err
		},
	} {
		if err := call(); !errors.As(err, &invalid) {
			t.Errorf("%s token: %v, want InvalidToken", what, err)
		}
	}
	_, err = c.ListStateMachines(ctx, &sfn.ListStateMachinesInput{MaxResults: 1001})
	var bad smithy.APIError
	if !errors.As(err, &bad) || bad.ErrorCode() != "ValidationException" {
		t.Errorf("maxResults 1001: %v, want ValidationException", err)
	}
}
