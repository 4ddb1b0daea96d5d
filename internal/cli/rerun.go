package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/velocity-ci/velocity/internal/server"
)

func (a *app) rerunCmd() *cobra.Command {
	var o runOptions
	var failed bool
	cmd := &cobra.Command{
		Use:   "rerun RUN",
		Short: "Run a past run again at the same commit (--failed: only what did not succeed)",
		Long: `Start a new run of the same project at the same commit as RUN.

With --failed, every action that succeeded in RUN keeps its result (its
outputs are restored, it shows as cached from RUN) and only the failed,
cancelled, interrupted and skipped actions execute. Without it, every
action executes again, bypassing the result cache. A partial run (velocity
run NAME…, --only, --skip) is re-run with the same selection.`,
		Args: cobra.ExactArgs(1),
		RunE: a.orRemote(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			id, err := a.findRun(ctx, args[0])
			if err != nil {
				return err
			}
			return a.run(ctx, runRequest{runOptions: o, rerun: id, failed: failed})
		}, func(ctx context.Context, c *server.Client, args []string) error {
			return a.rerunRemote(ctx, c, args[0], runRequest{runOptions: o, failed: failed})
		}),
	}
	a.runFlags(cmd, &o)
	cmd.Flags().BoolVar(&failed, "failed", false, "keep the results of the actions that succeeded; run only the others")
	return cmd
}

// findRun resolves a RUN argument (a number, or "last") to a run number.
func (a *app) findRun(ctx context.Context, ref string) (int64, error) {
	h, err := a.openHome(ctx)
	if err != nil {
		return 0, err
	}
	defer h.Close()
	r, err := h.RunsReader().Find(ctx, ref)
	if err != nil {
		return 0, a.runsError(err, nil)
	}
	return r.ID, nil
}

// rerunRemote starts a run again on the server VELOCITY_SERVER names and
// follows it here as velocity rerun follows a local one; Ctrl-C cancels
// it there.
func (a *app) rerunRemote(ctx context.Context, c *server.Client, ref string, o runRequest) error {
	if o.tailLines < 0 {
		return usageError("--tail-lines must be 0 or more, got %d", o.tailLines)
	}
	live, err := a.liveOutput(o.progress)
	if err != nil {
		return err
	}
	old, err := a.remoteRun(ctx, c, ref)
	if err != nil {
		return err
	}
	// This machine's CPUs say nothing of the server's: --jobs goes only
	// when given, else the server picks.
	jobs := 0
	if a.command != nil && a.command.Flags().Changed("jobs") {
		jobs = o.jobs
	}
	id, err := c.RerunRun(ctx, old.ID, o.failed, jobs)
	if err != nil {
		return err
	}
	ctl := &serverRuns{client: c, journal: remoteJournal{c}}
	if err := a.follow(ctx, ctl, id, o, live); err != nil {
		return err
	}
	return a.runExit(ctx, ctl, id)
}
