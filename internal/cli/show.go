package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/velocity-ci/velocity/internal/console"
)

func (a *app) showCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show [RUN]",
		Short: "Show a run's graph: each action's needs, status and duration",
		Long:  "Show a run's graph: each action's needs, status and duration. RUN is a run number or 'last' (the default).",
		Args:  cobra.MaximumNArgs(1),
		RunE: a.withHome(func(ctx context.Context, h *home, args []string) error {
			arg := ""
			if len(args) == 1 {
				arg = args[0]
			}
			run, err := a.runArg(ctx, h, arg)
			if err != nil {
				return err
			}
			actions, err := h.store.Actions(ctx, run.ID)
			if err != nil {
				return err
			}
			approvals, err := h.store.Approvals(ctx, run.ID)
			if err != nil {
				return err
			}
			live, _ := a.liveOutput("auto")
			console.Report(a.stdout, run, actions, console.ReportOptions{Color: live, Needs: true, Approvals: approvals})
			if run.Workspace != "" {
				// Workspaces are reused: the files there are this run's
				// until the project's next run in the same slot.
				fmt.Fprintf(a.stdout, "workspace: %s\n", run.Workspace)
			}
			return nil
		}),
	}
}
