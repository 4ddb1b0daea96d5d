package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/velocity-ci/velocity/internal/executions"
)

func (a *app) workflowRedriveCmd() *cobra.Command {
	var detach, asJSON bool
	cmd := &cobra.Command{
		Use:   "redrive ID",
		Short: "Restart a failed, timed-out or aborted execution from where it failed",
		Long: `Restart a FAILED, TIMED_OUT or ABORTED execution from its failed state, like
RedriveExecution: states that succeeded are not run again, and inside a Map
only the iterations that failed or did not finish run again. It runs in the
foreground (like 'workflow run') or in the background with --detach.`,
		Args: cobra.ExactArgs(1),
		RunE: a.withWorkflows(func(ctx context.Context, svc *executions.Service, args []string) error {
			e, err := svc.Find(ctx, args[0])
			if err != nil {
				return err
			}
			run, err := svc.Redrive(ctx, e)
			if err != nil {
				return err
			}
			e = run.Execution
			if detach {
				run.Detach(ctx)
				fmt.Fprintln(a.stdout, e.ID)
				return nil
			}
			if !asJSON {
				fmt.Fprintf(a.stderr, "velocity: redriving execution %d (%s), redrive %d\n", e.ID, e.Name, e.RedriveCount)
			}
			return a.foreground(ctx, svc, run, asJSON)
		}),
	}
	cmd.Flags().BoolVarP(&detach, "detach", "d", false, "run the redriven execution in a background process and return at once")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print exactly one JSON object on stdout, as 'workflow run --json' does")
	return cmd
}
