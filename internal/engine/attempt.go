package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/velocity-ci/velocity/internal/executor"
	"github.com/velocity-ci/velocity/internal/plan"
	"github.com/velocity-ci/velocity/internal/secret"
	"github.com/velocity-ci/velocity/internal/sidecar"
	"github.com/velocity-ci/velocity/internal/store"
)

// attempt runs one attempt of n, journaling its start before the process
// exists. The first attempt may instead reuse a result (result cache,
// rerun). ended are attempts whose end is not journaled yet: their ends
// go into the commit of this attempt's start (see recordAttempts). The
// attempt's own end is returned to be journaled the same way, before
// anyone is told of it; it is nil when the error, a journal failure, is
// not.
func (x *execution) attempt(ctx context.Context, n *plan.Node, number int, ended []attemptEnd) (store.Status, *attemptEnd, error) {
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
	if err := x.recordAttempts(jctx, ended, &rec); err != nil {
		return store.Failed, nil, fmt.Errorf("%w: %w", errJournal, err)
	}
	if x.Observer != nil {
		x.Observer.AttemptStarted(n, number, rec.Started)
	}
	lf := &attemptLog{path: rec.Log}
	var err error
	rec.Status, rec.ExitCode, rec.Reason, err = x.perform(ctx, n, number, &rec, lf)
	if rec.Status != store.Succeeded && rec.Status != store.Cached {
		lf.create()
	}
	lf.Close()
	if err != nil {
		return store.Failed, nil, err
	}
	if lf.err != nil {
		rec.Status, rec.ExitCode, rec.Reason = store.Failed, -1, fmt.Sprintf("cannot create log: %v", lf.err)
	}
	rec.Finished = time.Now()
	final := rec.Status != store.Failed || number >= n.Attempts || ctx.Err() != nil
	return rec.Status, &attemptEnd{node: n, end: store.AttemptEnd{Attempt: rec, Final: final, AllowFailure: n.AllowFailure}}, nil
}

// attemptEnd is how an attempt of node ended, on its way to the journal.
type attemptEnd struct {
	node *plan.Node
	end  store.AttemptEnd
}

// recordAttempts journals the ends of attempts and then, unless nil, the
// start of the next one, in one commit when the journal can
// (store.AttemptRecorder), and then tells the observer of the ends. An
// end is committed before the console, the stream or a dependent action
// hears of it: the scheduler holds it until the next attempt it starts
// (in a chain, the dependent that the end let start) carries it into the
// commit of its start, or, when nothing starts, journals it itself (see
// graph). In a chain that is one commit per action instead of two.
func (x *execution) recordAttempts(ctx context.Context, ended []attemptEnd, started *store.Attempt) error {
	switch {
	case len(ended) == 0 && started == nil:
		return nil
	case len(ended) == 0:
		return x.Journal.StartAttempt(ctx, *started)
	}
	ends := make([]store.AttemptEnd, len(ended))
	for i, e := range ended {
		ends[i] = e.end
	}
	if r, ok := x.Journal.(store.AttemptRecorder); ok {
		if err := r.RecordAttempts(ctx, ends, started); err != nil {
			return err
		}
	} else {
		for _, e := range ends {
			if err := x.Journal.FinishAttempt(ctx, e.Attempt, e.Final, e.AllowFailure); err != nil {
				return err
			}
		}
		if started != nil {
			if err := x.Journal.StartAttempt(ctx, *started); err != nil {
				return err
			}
		}
	}
	if x.Observer != nil {
		for _, e := range ended {
			x.Observer.AttemptFinished(e.node, e.end.Attempt, e.end.Final)
		}
	}
	return nil
}

// perform does the work of an attempt whose log file is open: reuse a
// result if one fits, else execute and store what the action produced.
func (x *execution) perform(ctx context.Context, n *plan.Node, number int, rec *store.Attempt, logFile *attemptLog) (store.Status, int, string, error) {
	jctx := context.WithoutCancel(ctx)
	out := &attemptOutput{file: logFile, node: n, obs: x.Observer}

	if n.Deploy != "" {
		return x.deploy(ctx, n, out)
	}
	if n.Workflow != nil {
		return x.workflow(ctx, n, number, out)
	}
	if msgs, strict := x.sharing.check(n); len(msgs) > 0 {
		// The log keeps the warning next to the output it may explain.
		for _, m := range msgs {
			fmt.Fprintf(logFile, "velocity: warning: %s\n", m)
			if x.run.Warn != nil {
				x.run.Warn(m)
			}
		}
		if strict {
			st, code, msg := fail(out, "strict mode: this action may read files an earlier action did not declare (see the warning above)")
			return st, code, msg, nil
		}
	}
	key := ""
	var nk *nodeKey
	if x.cacheable(n) {
		x.mu.Lock()
		nk = x.keys[n]
		x.mu.Unlock()
		if nk == nil {
			k, err := x.cacheKey(n)
			if err != nil {
				fmt.Fprintf(out, "velocity: %v\n", err)
				return store.Failed, -1, err.Error(), nil
			}
			nk = k
			x.mu.Lock()
			x.keys[n] = nk
			x.mu.Unlock()
		}
		key = nk.key
		rec.CacheKey = key
		// The parts are recorded on a miss only: a hit's are those of
		// the run it came from.
	} else {
		rec.KeyParts = x.uncachedParts(n)
	}
	if number == 1 && (key != "" || x.run.Reuse != nil) && x.Blobs != nil {
		h, err := x.lookup(jctx, n, key)
		if err != nil {
			return store.Failed, -1, "", fmt.Errorf("%w: %w", errJournal, err)
		}
		var img store.Image
		if h != nil && n.Build != nil {
			var err error
			if img, err = x.cachedImage(jctx, n, h); errors.Is(err, errJournal) {
				return store.Failed, -1, "", err
			} else if err != nil {
				// The result stands for an image the engine lost: build.
				x.log.Info("cached image unusable; building it", "action", n.ID(), "from_run", h.from, "err", err)
				fmt.Fprintf(out, "velocity: cached result of run %d is unusable (%v); building the image\n", h.from, err)
				h = nil
			}
		}
		if h != nil {
			if err := x.restore(h, logFile); err != nil {
				// Never a silent wrong result: warn, forget the entry, run.
				x.log.Warn("cached result unusable; running the action", "action", n.ID(), "from_run", h.from, "err", err)
				if key != "" {
					x.Journal.DeleteResult(jctx, key)
				}
				// Whatever of the old log was copied goes; the warning stays.
				logFile.reset()
				fmt.Fprintf(out, "velocity: cached result of run %d is unusable (%v); running the action\n", h.from, err)
			} else {
				if err := x.noteOutputs(jctx, n, h); err != nil {
					return store.Failed, -1, "", err
				}
				if n.Build != nil {
					if st, code, reason, err := x.finishImage(ctx, n, img, out); err != nil || st != store.Succeeded {
						return st, code, reason, err
					}
				}
				rec.CachedFrom = h.from
				return store.Cached, 0, fmt.Sprintf("result of run %d", h.from), nil
			}
		}
	}
	if number == 1 && nk != nil {
		// A miss: keep what a later run needs to explain its own miss,
		// and say why this one executes.
		x.storeList(nk)
		rec.KeyParts = x.keyParts(nk).Encode()
		x.explainMiss(jctx, n, nk, logFile)
		nk.files = nil
	}

	if n.Build != nil {
		if status, code, reason, err := x.buildImage(ctx, n, out); err != nil || status != store.Succeeded {
			return status, code, reason, err
		}
	} else if status, code, reason := x.runScript(ctx, n, number, out); status != store.Succeeded {
		return status, code, reason, nil
	} else if err := x.saveOutputs(jctx, n); err != nil {
		if errors.Is(err, errJournal) {
			return store.Failed, -1, "", err
		}
		fmt.Fprintf(out, "velocity: %v\n", err)
		return store.Failed, 0, err.Error(), nil
	}
	if key != "" {
		// The cached result keeps the log, even an empty one.
		logFile.create()
		if err := x.saveResult(jctx, n, key, rec.Log); err != nil {
			x.log.Warn("result not cached", "action", n.ID(), "err", err)
		}
	}
	return store.Succeeded, 0, "", nil
}

// runScript executes the node's script once, with its secrets, sidecars
// and dependency cache, and says how it went.
func (x *execution) runScript(ctx context.Context, n *plan.Node, number int, log io.Writer) (store.Status, int, string) {
	env := x.env(n)
	var masker *secret.Masker
	if len(n.Secrets) > 0 {
		if x.Secrets == nil {
			return fail(log, "secrets are not available here")
		}
		var values [][]byte
		for _, name := range n.Secrets {
			v, err := x.Secrets.Get(name)
			if err != nil {
				return fail(log, fmt.Sprintf("secret %s: %v", name, err))
			}
			env = append(env, name+"="+string(v))
			values = append(values, v)
		}
		// Everything the action and its sidecars print passes the masker
		// before it reaches the log or the screen.
		masker = secret.NewMasker(log, values)
		log = masker
		defer masker.Flush()
	}

	depKey := ""
	if len(n.CachePaths) > 0 && x.Blobs != nil {
		var err error
		if depKey, err = x.depCacheKey(n); err != nil {
			return fail(log, err.Error())
		}
		if x.restoreDepCache(ctx, n, depKey, log) {
			depKey = "" // an exact hit is not saved again
		} else if depKey == "" {
			depKey = "-"
		}
	}

	ws, err := x.workspace(ctx)
	if err != nil {
		return fail(log, err.Error())
	}
	// An executor that runs an image step's sidecars inside the step (a
	// pod) gets them with the step; otherwise they are started here.
	var inside []executor.Sidecar
	if len(n.Sidecars) > 0 && n.Image != "" && x.Executor.Capabilities().Sidecars {
		var scEnv []string
		if inside, scEnv, err = sidecar.Inside(n.Sidecars); err != nil {
			return fail(log, err.Error())
		}
		env = append(env, scEnv...)
	} else if len(n.Sidecars) > 0 {
		dir := x.sidecarDir(n, number)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fail(log, fmt.Sprintf("sidecars: %v", err))
		}
		defer os.RemoveAll(dir)
		group, err := sidecar.Start(ctx, n.Sidecars, sidecar.Options{
			Executor: ws, Env: env, Dir: dir, Log: log, KillGrace: x.KillGrace,
			Ports: x.Ports, PortRange: x.PortRange, InContainer: n.Image != "", Action: n.ID(),
		})
		if err != nil {
			return fail(log, err.Error())
		}
		defer group.Stop()
		env = append(env, group.Env()...)
	}

	actx := ctx
	if n.Timeout > 0 {
		var cancel context.CancelFunc
		actx, cancel = context.WithTimeout(ctx, n.Timeout)
		defer cancel()
	}
	pic := x.sharing.before()
	res, err := ws.Run(actx, executor.Step{
		Name:      n.ID(),
		Script:    n.Script,
		Image:     n.Image,
		User:      n.User,
		Limits:    executor.Limits{Memory: n.Memory, CPU: n.CPU},
		Env:       env,
		Dir:       x.run.Dir,
		Sidecars:  inside,
		Output:    log,
		KillGrace: x.KillGrace,
	})
	x.sharing.after(n, pic)
	switch {
	case err != nil:
		return fail(log, err.Error())
	case res.Stopped && ctx.Err() != nil:
		reason := "cancelled"
		if cause := context.Cause(ctx); errors.Is(cause, errFailFast) {
			reason = cause.Error()
			fmt.Fprintf(log, "velocity: cancelled: %s\n", reason)
		}
		return store.Cancelled, res.ExitCode, reason
	case res.Stopped && errors.Is(actx.Err(), context.DeadlineExceeded):
		msg := fmt.Sprintf("timed out after %v", n.Timeout)
		fmt.Fprintf(log, "velocity: %s\n", msg)
		return store.Failed, res.ExitCode, msg
	case res.ExitCode != 0:
		return store.Failed, res.ExitCode, exitReason(res)
	}
	if depKey != "" {
		if depKey == "-" {
			depKey = ""
		}
		if err := x.saveDepCache(context.WithoutCancel(ctx), n, depKey); err != nil {
			fmt.Fprintf(log, "velocity: dependency cache not saved: %v\n", err)
		}
	}
	return store.Succeeded, 0, ""
}

// deploy carries out a deploy action through the Deployer.
func (x *execution) deploy(ctx context.Context, n *plan.Node, out io.Writer) (store.Status, int, string, error) {
	if x.Deployer == nil {
		st, code, msg := fail(out, fmt.Sprintf("cannot deploy service %q to %q here: no runtime", n.Deploy, n.Environment))
		return st, code, msg, nil
	}
	outs, err := x.Journal.Outputs(context.WithoutCancel(ctx), x.run.ID)
	if err != nil {
		return store.Failed, -1, "", fmt.Errorf("%w: %w", errJournal, err)
	}
	images, err := x.Journal.Images(context.WithoutCancel(ctx), x.run.ID)
	if err != nil {
		return store.Failed, -1, "", fmt.Errorf("%w: %w", errJournal, err)
	}
	url, err := x.Deployer.Deploy(ctx, Deploy{RunID: x.run.ID, Service: n.Deploy, Environment: n.Environment, Outputs: outs, Images: images, Log: out})
	if err != nil {
		fmt.Fprintf(out, "velocity: deploy failed: %v\n", err)
		first, _, _ := strings.Cut(err.Error(), "\n")
		if ctx.Err() != nil {
			return store.Cancelled, -1, "cancelled", nil
		}
		return store.Failed, -1, first, nil
	}
	x.mu.Lock()
	x.urls[n] = url
	// Every deploy is a new release, so what tests it afterwards never
	// comes from the cache.
	x.outputs[n] = fmt.Sprintf("release of run %d at %s", x.run.ID, url)
	x.mu.Unlock()
	return store.Succeeded, 0, "", nil
}

// fail records a failure that happened before or around the script.
func fail(log io.Writer, msg string) (store.Status, int, string) {
	fmt.Fprintf(log, "velocity: %s\n", msg)
	return store.Failed, -1, msg
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
// observer. Only the executor's reading goroutine writes to it, except
// for sidecars, whose writes the sidecar group serialises.
type attemptOutput struct {
	file io.Writer
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
	if n.Image != "" {
		env = append(env, imageEnv(x.run.Env)...)
	} else {
		env = append(env, x.run.Env...)
	}
	keys := make([]string, 0, len(n.Env))
	for k := range n.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+n.Env[k])
	}
	env = append(env, x.run.Vars...)
	// The environment deployed last before this action starts is the one
	// its acceptance tests talk to. What ran before is only walked when
	// something deployed or built an image: in a chain the walk grows with
	// the position, for every action.
	x.mu.Lock()
	if len(x.urls) > 0 || len(x.images) > 0 {
		for _, b := range n.Before() {
			if u := x.urls[b]; u != "" {
				env = append(env, "VELOCITY_URL="+u)
			}
		}
		env = append(env, x.imageEnv(n)...)
	}
	x.mu.Unlock()
	return append(env, "VELOCITY_STAGE="+n.Stage, "VELOCITY_ACTION="+n.Name)
}
