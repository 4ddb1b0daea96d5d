package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/velocity-ci/velocity/internal/home"
	"github.com/velocity-ci/velocity/internal/server"
	"github.com/velocity-ci/velocity/internal/store"
)

func (a *app) cancelCmd() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "cancel RUN",
		Short: "Cancel a run that velocity serve executes",
		Long: `Cancel a run velocity serve executes (started with velocity run --server, a
trigger, or the API): its running actions get SIGTERM and nothing new starts
but its clean-up (finally actions), which --force skips as well. A run a
plain velocity run executes is stopped with Ctrl-C in its terminal.`,
		Args: cobra.ExactArgs(1),
		RunE: a.orRemote(a.withHome(func(ctx context.Context, h *home.Home, args []string) error {
			run, err := a.runArg(ctx, h, args[0])
			if err != nil {
				return err
			}
			if err := ended(run); err != nil {
				return err
			}
			c, _ := h.DialServer(ctx)
			if c == nil {
				return usageError("run %d is not executed by a velocity serve of %s: stop it with Ctrl-C in the terminal of its velocity run", run.ID, h.Dir)
			}
			defer c.Close()
			if err := c.CancelRun(ctx, run.ID, force); err != nil {
				return err
			}
			a.printCancel(run.ID, force)
			return nil
		}), func(ctx context.Context, c *server.Client, args []string) error {
			run, err := a.remoteRun(ctx, c, args[0])
			if err != nil {
				return err
			}
			if err := ended(run); err != nil {
				return err
			}
			if err := c.CancelRun(ctx, run.ID, force); err != nil {
				return err
			}
			a.printCancel(run.ID, force)
			return nil
		}),
	}
	cmd.Flags().BoolVar(&force, "force", false, "skip the run's clean-up (finally actions) too")
	return cmd
}

func (a *app) printCancel(id int64, force bool) {
	how := "its actions are being stopped"
	if force {
		how += ", without clean-up"
	}
	fmt.Fprintf(a.stdout, "run %d cancelled: %s ('velocity watch %d' shows its end)\n", id, how, id)
}

// ended refuses to cancel a run that has ended.
func ended(run store.Run) error {
	if run.Status.Final() {
		return usageError("run %d has ended (%s): nothing to cancel", run.ID, run.Status)
	}
	return nil
}
