package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/velocity-ci/velocity/internal/store"
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
		RunE: a.withWorkflows(func(ctx context.Context, rt *workflowRuntime, args []string) error {
			e, err := executionArg(ctx, rt, args[0])
			if err != nil {
				return err
			}
			lock, path, err := rt.lockFor()
			if err != nil {
				return err
			}
			if err := rt.h.store.Redrive(ctx, e.ID, path, time.Now()); errors.Is(err, store.ErrNotFound) {
				lock.Release()
				return usageError("execution %d is %s: only FAILED, TIMED_OUT or ABORTED executions can be redriven", e.ID, e.Status)
			} else if err != nil {
				lock.Release()
				return err
			}
			if e, err = rt.h.store.Execution(ctx, e.ID); err != nil {
				lock.Release()
				return err
			}
			if detach {
				lock.Release()
				rt.resumeInBackground(ctx)
				fmt.Fprintln(a.stdout, e.ID)
				return nil
			}
			if !asJSON {
				rt.notify = func(format string, args ...any) { fmt.Fprintf(a.stderr, format, args...) }
				fmt.Fprintf(a.stderr, "velocity: redriving execution %d (%s), redrive %d\n", e.ID, e.Name, e.RedriveCount)
			}
			return a.foreground(ctx, rt, e, lock, asJSON)
		}),
	}
	cmd.Flags().BoolVarP(&detach, "detach", "d", false, "run the redriven execution in a background process and return at once")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print exactly one JSON object on stdout, as 'workflow run --json' does")
	return cmd
}
