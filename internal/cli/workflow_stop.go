package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/velocity-ci/velocity/internal/store"
)

func (a *app) workflowStopCmd() *cobra.Command {
	var errName, cause string
	cmd := &cobra.Command{
		Use:   "stop ID",
		Short: "Stop (abort) a running or waiting execution",
		Long: `Stop an execution, like StopExecution: it ends ABORTED with the given error and
cause, its running tasks are cancelled (commands get SIGTERM, then SIGKILL).
The process running it acts on the request; when none does (it died), this
command records the abort itself.`,
		Args: cobra.ExactArgs(1),
		RunE: a.withWorkflows(func(ctx context.Context, rt *workflowRuntime, args []string) error {
			e, err := executionArg(ctx, rt, args[0])
			if err != nil {
				return err
			}
			// Children are stopped with it, as Step Functions stops the
			// child of a .sync task whose execution stops.
			if _, err := rt.h.store.RequestStop(ctx, e.ID, errName, cause); errors.Is(err, store.ErrNotFound) {
				return usageError("execution %d is %s already", e.ID, e.Status)
			} else if err != nil {
				return err
			}
			// With no owner alive, resume it here: the interpreter sees the
			// stop request at once and journals the abort.
			if lock, ok := rt.adopt(ctx, e); ok {
				e, _ = rt.h.store.Execution(ctx, e.ID)
				if _, err := rt.execute(ctx, e, lock); err != nil {
					return err
				}
			}
			deadline := time.Now().Add(30 * time.Second)
			for {
				now, err := rt.h.store.Execution(ctx, e.ID)
				if err != nil {
					return err
				}
				if now.Status.Final() {
					fmt.Fprintf(a.stdout, "execution %d (%s) %s\n", now.ID, now.Name, now.Status)
					return nil
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("execution %d was asked to stop but is still %s after 30s", e.ID, now.Status)
				}
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(rt.poll):
				}
			}
		}),
	}
	cmd.Flags().StringVar(&errName, "error", "", "the error the execution ends with")
	cmd.Flags().StringVar(&cause, "cause", "", "the cause the execution ends with")
	return cmd
}
