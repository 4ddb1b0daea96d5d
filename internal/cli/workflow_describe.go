package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/velocity-ci/velocity/internal/executions"
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
		RunE: a.withWorkflows(func(ctx context.Context, svc *executions.Service, args []string) error {
			e, err := svc.Find(ctx, args[0])
			if err != nil {
				return err
			}
			d, err := svc.Describe(ctx, e)
			if err != nil {
				return err
			}
			if asJSON {
				return writeDescriptionJSON(a.stdout, d)
			}
			return writeDescription(a.stdout, d)
		}),
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the execution as DescribeExecution does")
	return cmd
}

// writeDescriptionJSON prints an execution as DescribeExecution does,
// with the task tokens it waits for.
func writeDescriptionJSON(w io.Writer, d executions.Description) error {
	m := executionJSON(d.Execution)
	if len(d.Waiting) > 0 {
		tokens := make([]string, len(d.Waiting))
		for i, t := range d.Waiting {
			tokens[i] = t.Token
		}
		m["waitingTaskTokens"] = tokens
	}
	return writeJSON(w, m)
}

// writeDescription prints an execution as a table of what it has.
func writeDescription(w io.Writer, d executions.Description) error {
	e := d.Execution
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s\t%s\n", k, v)
		}
	}
	row("id:", fmt.Sprint(e.ID))
	row("execution:", e.ARN)
	row("state machine:", executions.StateMachineARN(e.StateMachine))
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
	for _, t := range d.Waiting {
		row("waiting task:", fmt.Sprintf("%s token %s", t.State, t.Token))
	}
	return tw.Flush()
}

// executionJSON is an execution in the shape of DescribeExecution, with
// Velocity's own fields (id, concurrency key, parent) beside.
func executionJSON(e store.Execution) map[string]any {
	m := map[string]any{
		"id":              e.ID,
		"executionArn":    e.ARN,
		"stateMachineArn": executions.StateMachineARN(e.StateMachine),
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
