package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/velocity-ci/velocity/internal/console"
	"github.com/velocity-ci/velocity/internal/executions"
	"github.com/velocity-ci/velocity/internal/store"
)

func (a *app) workflowListCmd() *cobra.Command {
	var status, sm string
	var limit int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List workflow executions, newest first",
		Args:  cobra.NoArgs,
		RunE: a.withWorkflows(func(ctx context.Context, svc *executions.Service, _ []string) error {
			st := store.ExecutionStatus(strings.ToUpper(status))
			if st != "" && !slices.Contains(executions.Statuses(), st) {
				return usageError("--status %q is not a status: give PENDING, RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED", status)
			}
			if limit < 1 {
				return usageError("--limit must be at least 1, not %d", limit)
			}
			es, err := svc.List(ctx, store.ExecutionFilter{StateMachine: sm, Status: st, Limit: limit})
			if err != nil {
				return err
			}
			if asJSON {
				list := make([]map[string]any, len(es))
				for i, e := range es {
					list[i] = executionJSON(e)
				}
				return writeJSON(a.stdout, map[string]any{"executions": list})
			}
			return writeExecutions(a.stdout, es)
		}),
	}
	cmd.Flags().StringVar(&status, "status", "", "only executions with `STATUS` (PENDING, RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED)")
	cmd.Flags().StringVar(&sm, "state-machine", "", "only executions of the state machine `NAME`")
	cmd.Flags().IntVarP(&limit, "limit", "n", 20, "show at most `N` executions")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print {\"executions\": [...]} as DescribeExecution objects")
	return cmd
}

// writeExecutions prints executions as a table, one a line.
func writeExecutions(w io.Writer, es []store.Execution) error {
	if len(es) == 0 {
		fmt.Fprintln(w, "no workflow executions yet: start one with 'velocity workflow run FILE'")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATUS\tSTATE MACHINE\tNAME\tKEY\tSTARTED\tDURATION")
	for _, e := range es {
		d := ""
		if !e.Stopped.IsZero() && !e.Started.IsZero() {
			d = console.Duration(e.Stopped.Sub(e.Started))
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.Status, e.StateMachine, e.Name, e.ConcurrencyKey,
			e.Created.Local().Format(time.DateTime), d)
	}
	return tw.Flush()
}
