package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/velocity-ci/velocity/internal/home"
	"github.com/velocity-ci/velocity/internal/store"
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
		RunE: a.withHome(func(ctx context.Context, h *home.Home, _ []string) error {
			svc := h.Executions(ctx)
			defer svc.Close()
			n, err := svc.ResumeOrphans(ctx, func(e store.Execution) {
				fmt.Fprintf(a.stderr, "velocity: resuming execution %d (%s)\n", e.ID, e.Name)
			})
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
