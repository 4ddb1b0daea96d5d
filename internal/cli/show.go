package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/velocity-ci/velocity/internal/console"
	"github.com/velocity-ci/velocity/internal/home"
)

func (a *app) showCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show [RUN]",
		Short: "Show a run's graph: each action's needs, status and duration",
		Long:  "Show a run's graph: each action's needs, status and duration. RUN is a run number or 'last' (the default).",
		Args:  cobra.MaximumNArgs(1),
		RunE: a.withHome(func(ctx context.Context, h *home.Home, args []string) error {
			arg := ""
			if len(args) == 1 {
				arg = args[0]
			}
			svc := h.RunsReader()
			found, err := svc.Find(ctx, arg)
			if err != nil {
				return a.runsError(err, nil)
			}
			d, err := svc.Show(ctx, found.ID)
			if err != nil {
				return err
			}
			run := d.Run
			live, _ := a.liveOutput("auto")
			console.Report(a.stdout, run, d.Actions, console.ReportOptions{Color: live, Needs: true, Approvals: d.Approvals})
			if run.Workspace != "" {
				// Workspaces are reused: the files there are this run's
				// until the project's next run in the same slot.
				fmt.Fprintf(a.stdout, "workspace: %s\n", run.Workspace)
			}
			return nil
		}),
	}
}
