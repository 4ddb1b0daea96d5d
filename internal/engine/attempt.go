package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/velocity-ci/velocity/internal/executor"
	"github.com/velocity-ci/velocity/internal/plan"
	"github.com/velocity-ci/velocity/internal/store"
)

// attempt runs one attempt of n, journaling its start before the process
// exists and its end before anyone is told. The error is a journal failure.
func (x *execution) attempt(ctx context.Context, n *plan.Node, number int) (store.Status, error) {
	// Journal writes must land even while the run is being cancelled.
	jctx := context.WithoutCancel(ctx)
	rec := store.Attempt{
		RunID:   x.run.ID,
		Stage:   n.Stage,
		Action:  n.Name,
		N:       number,
		Status:  store.Running,
		Log:     x.logPath(n, number),
		Started: time.Now(),
	}
	if err := x.Journal.StartAttempt(jctx, rec); err != nil {
		return store.Failed, fmt.Errorf("%w: %w", errJournal, err)
	}
	if x.Observer != nil {
		x.Observer.AttemptStarted(n, number, rec.Started)
	}

	rec.Status, rec.ExitCode, rec.Reason = x.runScript(ctx, n, rec.Log)
	rec.Finished = time.Now()
	final := rec.Status != store.Failed || number >= n.Attempts || ctx.Err() != nil
	if err := x.Journal.FinishAttempt(jctx, rec, final, n.AllowFailure); err != nil {
		return store.Failed, fmt.Errorf("%w: %w", errJournal, err)
	}
	if x.Observer != nil {
		x.Observer.AttemptFinished(n, rec, final)
	}
	return rec.Status, nil
}

// runScript runs the node's script once and says how it went.
func (x *execution) runScript(ctx context.Context, n *plan.Node, logPath string) (store.Status, int, string) {
	f, err := createLog(logPath)
	if err != nil {
		return store.Failed, -1, fmt.Sprintf("cannot create log: %v", err)
	}
	defer f.Close()
	out := &attemptOutput{file: f, node: n, obs: x.Observer}

	actx := ctx
	if n.Timeout > 0 {
		var cancel context.CancelFunc
		actx, cancel = context.WithTimeout(ctx, n.Timeout)
		defer cancel()
	}
	res, err := x.Executor.Run(actx, executor.Step{
		Name:      n.ID(),
		Script:    n.Script,
		Env:       x.env(n),
		Dir:       x.run.Dir,
		Output:    out,
		KillGrace: x.KillGrace,
	})
	if out.err != nil {
		x.log.Warn("log write failed; output is still shown", "action", n.ID(), "err", out.err)
	}
	switch {
	case err != nil:
		fmt.Fprintf(out, "velocity: %v\n", err)
		return store.Failed, -1, err.Error()
	case res.Stopped && ctx.Err() != nil:
		return store.Cancelled, res.ExitCode, "cancelled"
	case res.Stopped && errors.Is(actx.Err(), context.DeadlineExceeded):
		msg := fmt.Sprintf("timed out after %v", n.Timeout)
		fmt.Fprintf(out, "velocity: %s\n", msg)
		return store.Failed, res.ExitCode, msg
	case res.ExitCode == 0:
		return store.Succeeded, 0, ""
	}
	return store.Failed, res.ExitCode, exitReason(res)
}

// exitReason words a failed exit the way a user debugs it.
func exitReason(res executor.Result) string {
	switch {
	case res.Signal != "":
		return "killed by signal: " + res.Signal
	case res.ExitCode == 127:
		return "command not found (exit 127)"
	case res.ExitCode == 126:
		return "command not executable (exit 126)"
	}
	return fmt.Sprintf("exit code %d", res.ExitCode)
}

// attemptOutput streams an attempt's output to its log file and the
// observer. Only the executor's reading goroutine writes to it.
type attemptOutput struct {
	file *os.File
	node *plan.Node
	obs  Observer
	err  error
}

func (o *attemptOutput) Write(p []byte) (int, error) {
	if o.err == nil {
		if _, err := o.file.Write(p); err != nil {
			o.err = err
		}
	}
	if o.obs != nil {
		o.obs.Output(o.node, p)
	}
	return len(p), nil
}

// env is the node's complete environment: the run's base, the pipeline's
// and action's env, then the variables that say where the action is, which
// a definition cannot override.
func (x *execution) env(n *plan.Node) []string {
	env := make([]string, 0, len(x.run.Env)+len(n.Env)+len(x.run.Vars)+2)
	env = append(env, x.run.Env...)
	keys := make([]string, 0, len(n.Env))
	for k := range n.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+n.Env[k])
	}
	env = append(env, x.run.Vars...)
	return append(env, "VELOCITY_STAGE="+n.Stage, "VELOCITY_ACTION="+n.Name)
}
