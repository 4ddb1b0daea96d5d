package cli

import (
	"context"
	"fmt"

	"github.com/velocity-ci/velocity/internal/console"
	"github.com/velocity-ci/velocity/internal/runs"
	"github.com/velocity-ci/velocity/internal/server"
	"github.com/velocity-ci/velocity/internal/store"
)

// logsRemote prints a run's output from the server VELOCITY_SERVER names,
// as velocity logs prints it from the local data directory. The lines
// come from the run's event stream: with follow the live one, until the
// run ends; without, what the server's journal holds now.
func (a *app) logsRemote(ctx context.Context, c *server.Client, args []string, follow bool) error {
	run, err := a.remoteRun(ctx, c, args[0])
	if err != nil {
		return err
	}
	p := &remoteLog{a: a}
	p.terminal, _ = a.liveOutput("auto")
	if len(args) == 2 {
		d, err := c.ShowRun(ctx, run.ID)
		if err != nil {
			return err
		}
		k, err := actionOf(run.ID, d.Actions, args[1])
		if err != nil {
			return err
		}
		p.only = k.Stage + "/" + k.Name
	}
	var ev *server.RunEvents
	if follow {
		ev, err = c.WatchRun(ctx, run.ID, 0, false)
	} else {
		ev, err = c.JournaledRun(ctx, run.ID)
	}
	if err != nil {
		return err
	}
	for e := range ev.C {
		p.handle(e)
	}
	p.flush()
	if ctx.Err() != nil {
		return nil
	}
	return ev.Err()
}

// remoteLog prints the output events of a run's stream. For every action
// the lines are prefixed [stage/action] (retries marked); for one action
// (only) they are bare, with a header and a verdict around each attempt
// when the action took several.
type remoteLog struct {
	a        *app
	only     string
	terminal bool
	// held are the lines of the first attempt of only while it is not
	// known whether a retry follows (and so whether headers are due).
	held []string
	hold bool
}

func (p *remoteLog) handle(e runs.Event) {
	switch {
	case e.AttemptStarted != nil && e.AttemptStarted.Action == p.only:
		at := e.AttemptStarted
		if at.Attempt > 1 {
			p.flush()
			fmt.Fprintf(p.a.stdout, "--- attempt %d ---\n", at.Attempt)
		}
		// An action that may be retried: its first attempt's lines wait
		// for its end, which says whether another attempt follows.
		p.hold = at.Attempt == 1 && at.Of != 1
	case e.Output != nil && p.only == "":
		prefix := fmt.Sprintf("[%s] ", e.Output.Action)
		if e.Output.Attempt > 1 {
			prefix = fmt.Sprintf("[%s attempt %d] ", e.Output.Action, e.Output.Attempt)
		}
		p.line(prefix, e.Output.Text)
	case e.Output != nil && e.Output.Action == p.only:
		if p.hold {
			p.held = append(p.held, e.Output.Text)
			return
		}
		p.line("", e.Output.Text)
	case e.AttemptFinished != nil && e.AttemptFinished.Action == p.only:
		p.finished(e.AttemptFinished)
	}
}

// finished closes an attempt of only: the first one gets its header
// late, once a retry shows that there are several.
func (p *remoteLog) finished(at *runs.AttemptFinished) {
	several := at.Attempt > 1 || !at.Final
	if p.hold && several {
		fmt.Fprintf(p.a.stdout, "--- attempt %d ---\n", at.Attempt)
	}
	p.flush()
	if several && at.Status != store.Succeeded {
		fmt.Fprintf(p.a.stdout, "--- attempt %d %s: %s ---\n", at.Attempt, at.Status, at.Reason)
	}
}

// flush prints the held lines.
func (p *remoteLog) flush() {
	for _, l := range p.held {
		p.line("", l)
	}
	p.held, p.hold = nil, false
}

func (p *remoteLog) line(prefix, text string) {
	if p.terminal {
		text = console.Printable(text)
	}
	fmt.Fprintf(p.a.stdout, "%s%s\n", prefix, text)
}
