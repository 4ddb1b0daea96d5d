package cli

import (
	"github.com/spf13/cobra"

	"github.com/velocity-ci/velocity/internal/console"
)

func (a *app) showCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show [RUN]",
		Short: "Show a run's graph: each action's needs, status and duration",
		Long:  "Show a run's graph: each action's needs, status and duration. RUN is a run number or 'last' (the default).",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			h, err := a.openHome(ctx)
			if err != nil {
				return err
			}
			defer h.close()
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
			live, _ := a.liveOutput("auto")
			console.Report(a.stdout, run, actions, console.ReportOptions{Color: live, Needs: true})
			return nil
		},
	}
}
