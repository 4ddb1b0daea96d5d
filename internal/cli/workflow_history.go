package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/velocity-ci/velocity/internal/workflow"
)

func (a *app) workflowHistoryCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "history ID",
		Short: "Print an execution's history events",
		Long: `Print an execution's history events in order. --json prints them as Step
Functions' GetExecutionHistory does: {"events":[{"id","previousEventId",
"timestamp","type", and the "…EventDetails" object of the type}]}.`,
		Args: cobra.ExactArgs(1),
		RunE: a.withWorkflows(func(ctx context.Context, rt *workflowRuntime, args []string) error {
			e, err := executionArg(ctx, rt, args[0])
			if err != nil {
				return err
			}
			events, err := history(ctx, rt.h.store, e.ID)
			if err != nil {
				return err
			}
			if asJSON {
				b, err := workflow.MarshalHistory(events)
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(a.stdout, "%s\n", b)
				return err
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tTIMESTAMP\tTYPE\tSTATE\tDETAIL")
			for _, ev := range events {
				name, detail := eventSummary(ev)
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", ev.ID, awsTime(ev.Timestamp), ev.Type, name, detail)
			}
			return tw.Flush()
		}),
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the events as GetExecutionHistory does")
	return cmd
}

// eventSummary picks the state name and the error (or the resource) of
// an event for the table.
func eventSummary(ev workflow.Event) (name, detail string) {
	var d struct {
		Name     string `json:"name"`
		Resource string `json:"resource"`
		Error    string `json:"error"`
		Cause    string `json:"cause"`
		Index    *int   `json:"index"`
	}
	if len(ev.Details) > 0 {
		json.Unmarshal(ev.Details, &d)
	}
	switch {
	case d.Error != "":
		detail = d.Error
		if d.Cause != "" {
			detail += ": " + d.Cause
		}
		if len(detail) > 120 {
			detail = detail[:117] + "..."
		}
	case d.Resource != "":
		detail = d.Resource
	case d.Index != nil:
		detail = fmt.Sprintf("iteration %d", *d.Index)
	}
	return d.Name, detail
}
