package runs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/velocity-ci/velocity/internal/engine"
	"github.com/velocity-ci/velocity/internal/netport"
	"github.com/velocity-ci/velocity/internal/plan"
	"github.com/velocity-ci/velocity/internal/store"
)

// begin opens the run's stream and gathers what its actions need: the
// executor, the deployer, the workflow runtime.
func (x *runner) begin(ctx context.Context) error {
	cfg := x.svc.cfg
	x.feed = newFeed(x.run.ID, cfg.History)
	// What the run's parts log are messages of its stream, not lines on
	// stderr cutting through a terminal's view.
	x.log = slog.New(LogHandler(cfg.Logger.Handler(), func(m Message) {
		x.feed.emit(Event{Kind: KindMessage, Message: &m})
	}))
	x.feed.emit(Event{Time: x.run.Created, Kind: KindRunStarted, RunStarted: x.started()})
	ex, err := cfg.NewExecutor()
	if err != nil {
		return err
	}
	x.executor = ex
	x.onEnd(func() { ex.Close() })
	// One picker for sidecars and instances: the two never get the same
	// port, even while neither listens yet.
	x.picker = &netport.Picker{}
	if selects(x.plan, x.sel, func(n *plan.Node) bool { return n.Deploy != "" }) {
		if err := x.deploys(ctx); err != nil {
			return err
		}
	}
	x.notes()
	if selects(x.plan, x.sel, func(n *plan.Node) bool { return n.Workflow != nil }) {
		if cfg.Workflows == nil {
			return fmt.Errorf("run %d starts a workflow, and this velocity runs none", x.run.ID)
		}
		w, release, err := cfg.Workflows(ctx)
		if err != nil {
			return err
		}
		x.workflows = w
		x.onEnd(release)
	}
	if selects(x.plan, x.sel, func(n *plan.Node) bool { return n.Build != nil }) {
		if cfg.Images == nil {
			return fmt.Errorf("run %d builds images, and this velocity builds none", x.run.ID)
		}
		i, release, err := cfg.Images(ctx)
		if err != nil {
			return err
		}
		x.images = i
		x.onEnd(release)
	}
	facts, note := conditionFacts(ctx, cfg.Store, x.pipeline, x.req.Dir, x.req.Commit, x.snap)
	x.facts = facts
	if note != "" {
		x.feed.note("velocity: %s", note)
	}
	return nil
}

func (x *runner) deploys(ctx context.Context) error {
	if x.svc.cfg.Deploys == nil {
		return fmt.Errorf("run %d deploys, and this velocity deploys nothing", x.run.ID)
	}
	d, err := x.svc.cfg.Deploys.ForRun(ctx, DeployTarget{
		Pipeline: x.pipeline, Commit: x.snap.Commit, Replace: x.req.Replace, Ports: x.ports,
		Picker: x.picker, ProxyAddr: x.req.ProxyAddr, Log: x.log,
	})
	if err != nil {
		return err
	}
	x.deployer = d
	x.onEnd(d.Close)
	return nil
}

// started is the RunStarted event of the run.
func (x *runner) started() *RunStarted {
	e := &RunStarted{Project: x.pipeline.Name, Commit: x.snap.Commit, Branch: x.snap.Branch, Dirty: x.snap.Dirty,
		Workspace: x.snap.Dir, Trigger: x.req.Trigger, Stages: shape(x.plan, x.sel)}
	if x.sel != nil {
		e.Selection = &Selection{Only: x.req.Only, Skip: x.req.Skip, Description: x.sel.String(),
			Selected: x.sel.Len(), Total: x.plan.Len(), PulledIn: pulledIn(x.sel)}
	}
	return e
}

// notes says what the run is, for those watching.
func (x *runner) notes() {
	f := x.feed
	f.note("velocity: run %d of %s%s", x.run.ID, x.pipeline.Name, describeSnapshot(x.snap))
	if x.req.Trigger != "" {
		f.note("velocity: started by %s", x.req.Trigger)
	}
	if x.req.Note != "" {
		f.note("velocity: %s", x.req.Note)
	}
	if x.sel != nil {
		f.note("velocity: partial run: %s (%d of %d actions)", x.sel, x.sel.Len(), x.plan.Len())
		for _, line := range pulledIn(x.sel) {
			f.note("velocity: pulled in: %s", line)
		}
	}
	if x.req.KeepWorkspace {
		f.note("velocity: workspace %s", x.snap.Dir)
	}
}

// execute runs the pipeline to its end, then hosts what it deployed until
// ctx ends when asked to, and closes the stream.
func (x *runner) execute(ctx context.Context, r *liveRun) {
	defer x.svc.ended(x.run.ID)
	defer close(r.done)
	defer x.feed.close()
	defer x.release()
	defer r.cancel()
	leaseLost := x.watchLease(ctx, r.cancel)
	outcome, err := x.engine().Execute(ctx, x.engineRun(r.force))
	jctx := context.WithoutCancel(ctx)
	finished := time.Now()
	x.log.Debug("pipeline finished", "at", time.Since(x.began))
	if leaseLost() {
		// The record is the taker's now (it marked the run interrupted):
		// this process's outcome must not overwrite it.
		err = errors.Join(err, fmt.Errorf("run %d: its lease was lost: %w", x.run.ID, x.kept.Err()))
	} else if ferr := x.svc.cfg.Store.FinishRun(jctx, x.run.ID, outcome.Status, outcome.Reason, finished); ferr != nil && err == nil {
		err = ferr
	}
	if err != nil {
		err = fmt.Errorf("run %d stopped: %w", x.run.ID, err)
	}
	x.run.Status, x.run.Reason, x.run.Finished = outcome.Status, outcome.Reason, finished
	r.result = Result{Run: x.run, Err: err}
	fin := &RunFinished{Status: outcome.Status, Reason: outcome.Reason}
	if err != nil {
		fin.Error = err.Error()
	}
	x.feed.emit(Event{Time: finished, Kind: KindRunFinished, RunFinished: fin})
	if f := x.svc.cfg.OnFinished; f != nil {
		f(jctx, r.result)
	}
	if h := x.svc.cfg.Hook; h != nil {
		h.RunFinished(x.run)
	}
	if x.svc.cfg.Evict != nil && x.req.CacheSize > 0 {
		x.svc.cfg.Evict(jctx, x.req.CacheSize)
	}
	if x.deployer == nil {
		return
	}
	d := x.deployer
	if urls := d.URLs(); d.Hosted() || len(urls) > 0 {
		e := &Deployed{Hosted: d.Hosted(), Server: x.svc.cfg.Server, URLs: urls, Host: "velocity serve"}
		if f := x.svc.cfg.HostName; f != nil && !e.Hosted {
			e.Host = cmp.Or(f(jctx), e.Host)
		}
		x.feed.emit(Event{Kind: KindDeployed, Deployed: e})
	}
	if d.Hosted() && outcome.Status == store.Succeeded && err == nil && !x.req.NoServe {
		d.Serve(ctx, func(format string, args ...any) {
			x.feed.note("%s", strings.TrimSuffix(fmt.Sprintf(format, args...), "\n"))
		})
	}
}

func (x *runner) observer() *observer {
	o := newObserver(x.feed)
	o.project, o.hook = x.pipeline.Name, x.svc.cfg.Hook
	return o
}

func (x *runner) engine() *engine.Engine {
	cfg := x.svc.cfg
	return &engine.Engine{
		Executor:    x.executor,
		Journal:     cfg.Store,
		Observer:    x.observer(),
		Parallelism: x.req.Jobs,
		KillGrace:   x.req.KillGrace,
		Logger:      x.log,
		Blobs:       cfg.Blobs,
		Secrets:     cfg.Secrets,
		Version:     cfg.Version,
		ExplainKey:  cfg.ExplainKey,
		Approver:    &approver{store: cfg.Store, auto: x.req.Approve, feed: x.feed},
		Deployer:    x.deployerOrNil(),
		Workflows:   x.workflows,
		Images:      x.images,
		Ports:       x.picker,
		PortRange:   x.ports,
		Hold:        x.holdEnvironments,
	}
}

// deployerOrNil keeps a nil RunDeployer from becoming a non-nil
// engine.Deployer holding nil.
func (x *runner) deployerOrNil() engine.Deployer {
	if x.deployer == nil {
		return nil
	}
	return x.deployer
}

func (x *runner) engineRun(force <-chan struct{}) engine.Run {
	p, snap, ws := x.pipeline, x.snap, x.snap.Dir
	return engine.Run{
		ID:     x.run.ID,
		Plan:   x.plan,
		Dir:    ws,
		LogDir: x.svc.logDir(x.run.ID),
		Commit: snap.Commit,
		Env:    append(engine.HostEnv(x.svc.cfg.Environ, p.EnvPassthrough), "CI=true", "VELOCITY=true"),
		Vars: []string{
			fmt.Sprint("VELOCITY_RUN_ID=", x.run.ID),
			"VELOCITY_PROJECT=" + p.Name,
			"VELOCITY_COMMIT=" + snap.Commit,
			"VELOCITY_BRANCH=" + snap.Branch,
			"VELOCITY_WORKSPACE=" + ws,
		},
		Force:   force,
		TempDir: x.tmp,
		NoCache: x.req.NoCache,
		Reuse:   x.reuse,
		Warn: func(msg string) {
			x.feed.emit(Event{Kind: KindMessage, Message: &Message{Level: "warning", Text: msg}})
		},
		// Strict turns the warnings above into failures.
		StrictSharing: x.req.Strict,
		Selection:     x.sel,
		Facts:         x.facts,
		Snapshot:      x.snap.Manifest,
	}
}

// lease takes the run's lease in the store, renewed until the run (and
// the hosting after it) ends: the lock file says on this machine that the
// run is alive, the lease says it to every node sharing the store.
func (x *runner) lease(ctx context.Context) error {
	leases := x.svc.cfg.Leases
	if leases == nil {
		return nil
	}
	k, err := store.KeepLease(context.WithoutCancel(ctx), leases, store.RunLease(x.run.ID), x.svc.holder, store.KeepOptions{TTL: x.svc.cfg.LeaseTTL})
	if err != nil {
		return fmt.Errorf("run %d: %w", x.run.ID, err)
	}
	x.onEnd(func() { k.Release(context.Background()) })
	x.kept = k
	return nil
}

// watchLease stops the run when its lease is lost (the store was out of
// reach for longer than the lease lasts): another node may have taken
// the run over by then, and two executions of it would deploy twice. It
// reports whether that happened once the run has ended.
func (x *runner) watchLease(ctx context.Context, cancel func()) (lost func() bool) {
	if x.kept == nil {
		return func() bool { return false }
	}
	var happened atomic.Bool
	go func() {
		select {
		case <-ctx.Done():
		case <-x.kept.Lost():
			happened.Store(true)
			x.log.Error("the run's lease was lost; stopping it, as another node may take it over", "run", x.run.ID, "err", x.kept.Err())
			cancel()
		}
	}()
	return happened.Load
}
