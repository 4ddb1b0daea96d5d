package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

func (a *app) workflowResumeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "resume",
		Short: "Continue every execution whose process died, here, until they end",
		Long: `Continue every execution whose process died (killed, crashed, machine
restarted) in this process and wait until they end. Every other workflow
command does the same in a background process, so this is only needed to
watch it happen. Finished states and Map iterations are not run again; tasks
that were in flight are.`,
		Args: cobra.NoArgs,
		RunE: a.withHome(func(ctx context.Context, h *home, _ []string) error {
			rt, err := a.newWorkflowRuntime(ctx, h)
			if err != nil {
				return err
			}
			defer rt.close()
			n, err := rt.resumeAll(ctx, a.stderr)
			if err != nil {
				return err
			}
			if n == 0 {
				fmt.Fprintln(a.stdout, "no interrupted workflow executions")
			} else {
				fmt.Fprintf(a.stdout, "%d %s resumed and ended\n", n, plural(n, "execution"))
			}
			return nil
		}),
	}
}
