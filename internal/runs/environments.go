package runs

import (
	"context"
	"slices"
	"sync"

	"github.com/velocity-ci/velocity/internal/plan"
)

// environments keeps the deploy stages of one environment apart: a stage
// that deploys to an environment holds its lock from its first action to
// its end (its acceptance tests run against what it deployed, not what
// another run deploys meanwhile), whatever the execution mode of the
// runs' project. The locks are in memory: a server runs every run in one
// process, and a velocity run deploys through that server or hosts its
// own services.
type environments struct {
	mu    sync.Mutex
	locks map[string]*environmentLock
}

// environmentLock is one environment's lock: a token in free, and the run
// and stage holding it, for the message of those who wait.
type environmentLock struct {
	free   chan struct{}
	holder int64
	stage  string
}

func (e *environments) lock(name string) *environmentLock {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.locks == nil {
		e.locks = map[string]*environmentLock{}
	}
	l := e.locks[name]
	if l == nil {
		l = &environmentLock{free: make(chan struct{}, 1)}
		l.free <- struct{}{}
		e.locks[name] = l
	}
	return l
}

// hold takes environment name's lock for stage of run, telling waiting
// who holds it when it has to wait; it returns ctx's error when ctx ends
// first.
func (e *environments) hold(ctx context.Context, name string, run int64, stage string, waiting func(holder int64, stage string)) (release func(), err error) {
	l := e.lock(name)
	select {
	case <-l.free:
	default:
		e.mu.Lock()
		holder, held := l.holder, l.stage
		e.mu.Unlock()
		waiting(holder, held)
		select {
		case <-l.free:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
	e.mu.Lock()
	l.holder, l.stage = run, stage
	e.mu.Unlock()
	return func() {
		e.mu.Lock()
		l.holder, l.stage = 0, ""
		e.mu.Unlock()
		l.free <- struct{}{}
	}, nil
}

// holdEnvironments is the engine's Hold: it takes the lock of every
// environment the stage's selected actions deploy to, in name order so
// that two stages deploying to the same two environments cannot each
// hold one and wait for the other.
func (x *runner) holdEnvironments(ctx context.Context, st *plan.Stage) (func(), error) {
	var names []string
	for _, g := range []*plan.Graph{st.Actions, st.OnFailure, st.Finally} {
		for _, n := range g.Nodes {
			if n.Deploy != "" && n.Environment != "" && x.sel.Has(n) {
				names = append(names, n.Environment)
			}
		}
	}
	slices.Sort(names)
	names = slices.Compact(names)
	var releases []func()
	releaseAll := func() {
		for i := len(releases) - 1; i >= 0; i-- {
			releases[i]()
		}
	}
	for _, name := range names {
		waited := false
		release, err := x.svc.envs.hold(ctx, name, x.run.ID, st.Name, func(holder int64, stage string) {
			waited = true
			x.feed.note("velocity: stage %s waits for environment %s: run %d deploys to it (stage %s)", st.Name, name, holder, stage)
		})
		if err != nil {
			releaseAll()
			return nil, err
		}
		if waited {
			x.feed.note("velocity: environment %s is free: stage %s goes on", name, st.Name)
		}
		releases = append(releases, release)
	}
	return releaseAll, nil
}
