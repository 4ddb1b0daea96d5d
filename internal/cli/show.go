package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/velocity-ci/velocity/internal/console"
	"github.com/velocity-ci/velocity/internal/home"
	"github.com/velocity-ci/velocity/internal/runs"
	"github.com/velocity-ci/velocity/internal/server"
)

func (a *app) showCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show [RUN]",
		Short: "Show a run's graph: each action's needs, status and duration",
		Long:  "Show a run's graph: each action's needs, status and duration. RUN is a run number or 'last' (the default).",
		Args:  cobra.MaximumNArgs(1),
		RunE: a.orRemote(a.withHome(func(ctx context.Context, h *home.Home, args []string) error {
			svc := h.RunsReader()
			found, err := svc.Find(ctx, optionalArg(args))
			if err != nil {
				return a.runsError(err, nil)
			}
			d, err := svc.Show(ctx, found.ID)
			if err != nil {
				return err
			}
			a.printShow(d)
			return nil
		}), func(ctx context.Context, c *server.Client, args []string) error {
			found, err := a.remoteRun(ctx, c, optionalArg(args))
			if err != nil {
				return err
			}
			d, err := c.ShowRun(ctx, found.ID)
			if err != nil {
				return err
			}
			a.printShow(d)
			return nil
		}),
	}
}

// optionalArg is the one optional argument of a command, "" without.
func optionalArg(args []string) string {
	if len(args) == 1 {
		return args[0]
	}
	return ""
}

// printShow renders a run's graph.
func (a *app) printShow(d runs.Details) {
	run := d.Run
	live, _ := a.liveOutput("auto")
	console.Report(a.stdout, run, d.Actions, console.ReportOptions{Color: live, Needs: true, Approvals: d.Approvals})
	if run.Workspace != "" {
		// Workspaces are reused: the files there are this run's
		// until the project's next run in the same slot.
		fmt.Fprintf(a.stdout, "workspace: %s\n", run.Workspace)
	}
}
