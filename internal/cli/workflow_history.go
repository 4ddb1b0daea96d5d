package cli

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/velocity-ci/velocity/internal/executions"
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
		RunE: a.withWorkflows(func(ctx context.Context, svc *executions.Service, args []string) error {
			e, err := svc.Find(ctx, args[0])
			if err != nil {
				return err
			}
			events, err := svc.History(ctx, e.ID)
			if err != nil {
				return err
			}
			if asJSON {
				b, err := executions.MarshalHistory(events)
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(a.stdout, "%s\n", b)
				return err
			}
			return writeHistory(a.stdout, events)
		}),
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the events as GetExecutionHistory does")
	return cmd
}

// writeHistory prints events as a table, one a line.
func writeHistory(w io.Writer, events []executions.Event) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTIMESTAMP\tTYPE\tSTATE\tDETAIL")
	for _, ev := range events {
		name, detail := executions.EventSummary(ev)
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", ev.ID, awsTime(ev.Timestamp), ev.Type, name, detail)
	}
	return tw.Flush()
}
