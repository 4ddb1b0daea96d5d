package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/velocity-ci/velocity/internal/console"
	"github.com/velocity-ci/velocity/internal/home"
	"github.com/velocity-ci/velocity/internal/server"
)

func (a *app) watchCmd() *cobra.Command {
	var o runRequest
	cmd := &cobra.Command{
		Use:   "watch [RUN]",
		Short: "Show a run as it goes, from its start, in another terminal",
		Long: `Show a run the way the terminal that started it shows it: what happened so
far, then every event as it happens, until the run ends. RUN is a run
number or 'last' (the default). The run executes elsewhere — in velocity
serve (velocity run --server), or in a velocity run that hosts deployed
services — and goes on when you stop watching with Ctrl-C. A run executing
in a plain velocity run is shown as far as the journal holds it; follow its
logs with 'velocity logs RUN -f'.

Exit status: as the run's (0 succeeded, 1 failed, 130 cancelled) when it
ended while watched; 0 after Ctrl-C.`,
		Args: cobra.MaximumNArgs(1),
		RunE: a.orRemote(a.withHome(func(ctx context.Context, h *home.Home, args []string) error {
			run, err := a.runArg(ctx, h, optionalArg(args))
			if err != nil {
				return err
			}
			live, err := a.liveOutput(o.progress)
			if err != nil {
				return err
			}
			o.watchOnly = true
			return a.watch(ctx, h, run.ID, o, live)
		}), func(ctx context.Context, c *server.Client, args []string) error {
			run, err := a.remoteRun(ctx, c, optionalArg(args))
			if err != nil {
				return err
			}
			live, err := a.liveOutput(o.progress)
			if err != nil {
				return err
			}
			o.watchOnly = true
			return a.watchWith(ctx, &serverRuns{client: c, journal: remoteJournal{c}}, run.ID, o, live)
		}),
	}
	cmd.Flags().StringVar(&o.progress, "progress", "auto", "output style: auto, live (redrawn view) or plain (prefixed lines)")
	cmd.Flags().IntVar(&o.tailLines, "tail-lines", console.DefaultTailLines, "show the last `N` lines of each failed action's log at the end (0: only where the log is)")
	return cmd
}

// watch follows run id through the process that executes it when that
// process serves the runs API, else through the journal.
func (a *app) watch(ctx context.Context, h *home.Home, id int64, o runRequest, live bool) error {
	journal := h.RunsReader()
	var ctl runControl = journal
	if c, _ := h.DialServer(ctx); c != nil {
		defer c.Close()
		ctl = &serverRuns{client: c, journal: journal}
	}
	return a.watchWith(ctx, ctl, id, o, live)
}

// watchWith follows run id through ctl until its stream ends or the user
// stops watching.
func (a *app) watchWith(ctx context.Context, ctl runControl, id int64, o runRequest, live bool) error {
	watched, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	if err := a.follow(watched, ctl, id, o, live); err != nil {
		return err
	}
	d, err := ctl.Show(ctx, id)
	if err != nil {
		return err
	}
	switch {
	case d.Run.Status.Final():
		return a.runExit(ctx, ctl, id)
	case watched.Err() != nil:
		fmt.Fprintf(a.stderr, "velocity: stopped watching run %d; it goes on ('velocity watch %d' to come back)\n", id, id)
		return nil
	}
	if s, ok := ctl.(*serverRuns); ok && s.lostErr() != nil {
		return s.lostErr()
	}
	// The stream ended with the journal: the process executing the run
	// does not serve its events.
	fmt.Fprintf(a.stderr, "velocity: run %d goes on in a process that does not serve its events (a velocity run without deploys); that is all the journal holds so far: follow its logs with 'velocity logs %d -f'\n", id, id)
	return nil
}
