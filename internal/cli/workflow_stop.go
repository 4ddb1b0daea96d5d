package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/velocity-ci/velocity/internal/executions"
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
		RunE: a.withWorkflows(func(ctx context.Context, svc *executions.Service, args []string) error {
			e, err := svc.Find(ctx, args[0])
			if err != nil {
				return err
			}
			if e, err = svc.Stop(ctx, e, errName, cause); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "execution %d (%s) %s\n", e.ID, e.Name, e.Status)
			return nil
		}),
	}
	cmd.Flags().StringVar(&errName, "error", "", "the error the execution ends with")
	cmd.Flags().StringVar(&cause, "cause", "", "the cause the execution ends with")
	return cmd
}
