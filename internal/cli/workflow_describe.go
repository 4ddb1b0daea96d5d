package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/velocity-ci/velocity/internal/store"
)

func (a *app) workflowDescribeCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "describe ID",
		Short: "Show an execution: status, input, output or error, and task tokens it waits for",
		Long: `Show one execution, named by its number, its ARN, its name or "last": status,
input, output or error and cause, concurrency key, and the task tokens its
.waitForTaskToken tasks wait for. --json prints it in the shape of Step
Functions' DescribeExecution.`,
		Args: cobra.ExactArgs(1),
		RunE: a.withWorkflows(func(ctx context.Context, rt *workflowRuntime, args []string) error {
			e, err := executionArg(ctx, rt, args[0])
			if err != nil {
				return err
			}
			tokens, err := rt.h.store.TaskTokens(ctx, e.ID)
			if err != nil {
				return err
			}
			var waiting []string
			for _, t := range tokens {
				// Tokens of an execution that ended wait for nothing.
				if t.Status == store.TokenWaiting && !e.Status.Final() {
					waiting = append(waiting, t.Token)
				}
			}
			if asJSON {
				m := executionJSON(e)
				if len(waiting) > 0 {
					m["waitingTaskTokens"] = waiting
				}
				return writeJSON(a.stdout, m)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			row := func(k, v string) {
				if v != "" {
					fmt.Fprintf(tw, "%s\t%s\n", k, v)
				}
			}
			row("id:", fmt.Sprint(e.ID))
			row("execution:", e.ARN)
			row("state machine:", stateMachineARN(e.StateMachine))
			row("status:", string(e.Status))
			row("started:", awsTime(e.Started))
			row("stopped:", awsTime(e.Stopped))
			if e.ConcurrencyKey != "" {
				row("concurrency key:", fmt.Sprintf("%s (limit %d)", e.ConcurrencyKey, e.ConcurrencyLimit))
			}
			row("parent:", e.Parent)
			if e.RedriveCount > 0 {
				row("redrives:", fmt.Sprint(e.RedriveCount))
			}
			row("input:", string(e.Input))
			row("output:", string(e.Output))
			row("error:", e.Error)
			row("cause:", e.Cause)
			for _, t := range tokens {
				if t.Status == store.TokenWaiting && !e.Status.Final() {
					row("waiting task:", fmt.Sprintf("%s token %s", t.State, t.Token))
				}
			}
			return tw.Flush()
		}),
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the execution as DescribeExecution does")
	return cmd
}

// executionJSON is an execution in the shape of DescribeExecution, with
// Velocity's own fields (id, concurrency key, parent) beside.
func executionJSON(e store.Execution) map[string]any {
	m := map[string]any{
		"id":              e.ID,
		"executionArn":    e.ARN,
		"stateMachineArn": stateMachineARN(e.StateMachine),
		"name":            e.Name,
		"status":          string(e.Status),
		"startDate":       awsTime(e.Created),
		"input":           string(e.Input),
		"redriveCount":    e.RedriveCount,
	}
	if !e.Stopped.IsZero() {
		m["stopDate"] = awsTime(e.Stopped)
	}
	if e.Output != nil {
		m["output"] = json.RawMessage(quoteJSON(e.Output))
	}
	// DescribeExecution leaves out what the execution has none of.
	if e.Error != "" {
		m["error"] = e.Error
	}
	if e.Cause != "" {
		m["cause"] = e.Cause
	}
	if e.ConcurrencyKey != "" {
		m["concurrencyKey"], m["concurrencyLimit"] = e.ConcurrencyKey, e.ConcurrencyLimit
	}
	if e.Parent != "" {
		m["parentExecutionArn"] = e.Parent
	}
	if !e.Redriven.IsZero() {
		m["redriveDate"] = awsTime(e.Redriven)
	}
	return m
}

// quoteJSON gives a JSON document as a JSON string: DescribeExecution
// returns input and output as text.
func quoteJSON(b []byte) []byte {
	// Marshalling a string cannot fail.
	q, _ := marshalJSON(string(b))
	return q
}
