// Package local runs steps as host processes.
//
// Each attempt runs in its own process group so that a timeout, a Ctrl-C or
// the end of the step reaches every process the script started, including
// background ones. A process that leaves the group (setsid, a daemon's
// double fork) is found by the marker every process of the attempt
// inherits, MarkerVar=<random> in its environment (proc.Marker), and
// treated as if it had stayed. A small reaper process (package reaper)
// kills the groups and the marked processes if Velocity itself is killed
// with SIGKILL, when no code of ours can run. Package proc does all of
// this; this package says what to run.
package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"time"

	"github.com/velocity-ci/velocity/internal/executor"
	"github.com/velocity-ci/velocity/internal/proc"
	"github.com/velocity-ci/velocity/internal/reaper"
)

// DefaultKillGrace applies when a step sets no grace period.
const DefaultKillGrace = 10 * time.Second

// drainWait bounds how long output is read after a step's process group was
// killed: only a process that escaped the group (setsid) can hold the pipe
// open that long, and its output is not worth a hung run.
const drainWait = 2 * time.Second

// MarkerVar is set, to a value unique to each attempt, in the environment
// of every process a step starts; it replaces any value Step.Env has.
const MarkerVar = proc.MarkerVar

// Executor runs steps on the host. Create it with New and Close it when done.
type Executor struct {
	shell  []string
	reaper *reaper.Reaper
	// forks shares the fork counter's reads between attempts' markers.
	forks proc.ForkClock
}

// New finds the shell (bash, else sh) and starts the reaper.
func New() (*Executor, error) {
	shell, err := findShell()
	if err != nil {
		return nil, err
	}
	r, err := reaper.Start()
	if err != nil {
		return nil, err
	}
	return &Executor{shell: shell, reaper: r}, nil
}

// findShell prefers bash so that `pipefail` catches failures in the middle
// of a pipeline; sh -e is the portable fall-back.
func findShell() ([]string, error) {
	if p, err := exec.LookPath("bash"); err == nil {
		return []string{p, "--noprofile", "--norc", "-eo", "pipefail", "-c"}, nil
	}
	if p, err := exec.LookPath("sh"); err == nil {
		return []string{p, "-e", "-c"}, nil
	}
	return nil, errors.New("local executor: neither bash nor sh found in PATH")
}

// Shell returns the command line a script is appended to, for display.
func (e *Executor) Shell() []string { return append([]string(nil), e.shell...) }

// Close stops the reaper. Steps still running are killed by it.
func (e *Executor) Close() error { return e.reaper.Close() }

// run starts step's script as a host process group and waits for it and
// everything it started (see Run).
func (e *Executor) run(ctx context.Context, step executor.Step) (executor.Result, error) {
	if err := ctx.Err(); err != nil {
		return executor.Result{ExitCode: -1, Stopped: true}, nil
	}
	marker, err := e.forks.NewMarker(MarkerVar)
	if err != nil {
		return executor.Result{}, fmt.Errorf("%s: %w", step.Name, err)
	}
	grace := step.KillGrace
	if grace <= 0 {
		grace = DefaultKillGrace
	}
	args := e.Shell()
	// One writer for both streams: one pipe, so the order of stdout and
	// stderr lines holds. A pointer is the same writer to proc whatever
	// type Output has, comparable or not.
	out := &combined{w: step.Output}
	if out.w == nil {
		out.w = io.Discard
	}
	env := step.Env
	if env == nil {
		env = []string{} // nothing is inherited; nil would inherit ours
	}
	res := executor.Result{Started: time.Now()}
	p, err := proc.Start(ctx, proc.Spec{
		Path:   args[0],
		Args:   append(args[1:], step.Script),
		Env:    env,
		Dir:    step.Dir,
		Stdout: out,
		Stderr: out,
		Group:  true,
		// The shell dies with us even before the reaper learns its group.
		DieWithParent: true,
		// Every process of the attempt carries it, so that those that
		// leave the group die with it too; it replaces any value Env has.
		Marker:    marker,
		Watchdog:  e.reaper,
		KillGrace: grace,
		DrainWait: drainWait,
	})
	if err != nil {
		if ctx.Err() != nil {
			return executor.Result{ExitCode: -1, Stopped: true}, nil
		}
		return executor.Result{}, fmt.Errorf("%s: start %s: %w", step.Name, args[0], err)
	}
	exit, werr := p.Wait()
	res.Finished = exit.Ended
	res.ExitCode = exit.Code
	res.Stopped = exit.Stopped
	if exit.Signal != 0 {
		res.Signal = exit.Signal.String()
	}
	if werr != nil {
		return res, fmt.Errorf("%s: %w", step.Name, werr)
	}
	return res, nil
}

// combined carries a step's Output as one comparable writer.
type combined struct{ w io.Writer }

func (c *combined) Write(b []byte) (int, error) { return c.w.Write(b) }
