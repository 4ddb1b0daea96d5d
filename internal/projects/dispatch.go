package projects

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/velocity-ci/velocity/internal/fault"
	"github.com/velocity-ci/velocity/internal/store"
)

// Run starts the requests left waiting by an earlier process, then
// dispatches requests, polls the projects that poll and fires schedules
// until ctx is done. Each project has one dispatcher among the processes
// sharing the journal (a lease); runs it started go on after Run returns.
func (s *Service) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	if s.cfg.Schedules != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.cfg.Schedules(ctx); err != nil && ctx.Err() == nil {
				s.cfg.Log.Error("schedules stopped", "err", err)
			}
		}()
	}
	// Projects added by another process sharing the journal kick no
	// one here: they are found by listing again now and then.
	look := time.NewTicker(rescan)
	defer look.Stop()
	for {
		if err := s.startDispatchers(ctx, &wg); err != nil && ctx.Err() == nil {
			s.cfg.Log.Error("listing projects", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.kick:
		case <-look.C:
		}
	}
}

// startDispatchers starts a dispatcher for each project without one.
func (s *Service) startDispatchers(ctx context.Context, wg *sync.WaitGroup) error {
	list, err := s.cfg.Store.Projects(ctx)
	if err != nil {
		return err
	}
	found := false
	// A project added by another process is new to the schedules too.
	defer func() {
		if found {
			s.changed()
		}
	}()
	for _, p := range list {
		s.mu.Lock()
		busy := s.dispatching[p.Name]
		s.dispatching[p.Name] = true
		s.mu.Unlock()
		if busy {
			continue
		}
		found = true
		d := &dispatcher{s: s, name: p.Name, wake: s.wakeOf(p.Name), done: make(chan struct{}, 1)}
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.loop(ctx, p.Poll)
		}()
	}
	return nil
}

// dispatcher turns one project's waiting requests into runs by the
// project's mode, and polls its repository.
type dispatcher struct {
	s    *Service
	name string
	wake chan struct{}
	// busy is set while a run of a one-at-a-time mode goes on; done is
	// signalled when it ends.
	busy bool
	done chan struct{}
}

func (d *dispatcher) loop(ctx context.Context, poll time.Duration) {
	defer d.stopped(ctx)
	for {
		lease, err := d.lease(ctx)
		if err != nil {
			return
		}
		gone := d.serve(ctx, lease, poll)
		if err := lease.Release(context.WithoutCancel(ctx)); err != nil {
			d.s.cfg.Log.Warn("releasing the dispatch of a project", "project", d.name, "err", err)
		}
		if gone || ctx.Err() != nil {
			return
		}
	}
}

// dispatchLease names the lease of a project's dispatcher.
func dispatchLease(name string) string { return "project/" + name + "/dispatch" }

// standby is how often a dispatcher whose project another process
// dispatches asks again for the lease.
const standby = 2 * time.Second

// lease blocks until this process dispatches the project: one dispatcher
// per project, so that a queued project runs one run at a time even when
// several processes share the journal. It fails when ctx ends or the
// project is gone.
func (d *dispatcher) lease(ctx context.Context) (*store.KeptLease, error) {
	st := d.s.cfg.Store
	for {
		if _, err := st.Project(ctx, d.name); err != nil {
			return nil, err
		}
		k, err := store.KeepLease(ctx, st, dispatchLease(d.name), d.s.holder, store.KeepOptions{TTL: d.s.cfg.LeaseTTL})
		if err == nil {
			// A request taken by a dispatcher that stopped before its
			// run was recorded waits again: no trigger is lost.
			n, err := st.ReturnUntaken(ctx, d.name, d.s.cfg.Now())
			if err != nil {
				k.Release(context.WithoutCancel(ctx))
				return nil, err
			}
			if n > 0 {
				d.s.cfg.Log.Info("requests taken before a stop wait again", "project", d.name, "requests", n)
			}
			return k, nil
		}
		if !errors.Is(err, store.ErrLeaseHeld) {
			d.s.cfg.Log.Error("taking the dispatch of a project", "project", d.name, "err", err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(standby):
		}
	}
}

// rescan is how often a dispatcher looks for requests nobody woke it
// for.
const rescan = 5 * time.Second

// serve dispatches while the lease is kept; gone reports that the
// project was removed.
func (d *dispatcher) serve(ctx context.Context, lease *store.KeptLease, poll time.Duration) (gone bool) {
	var tick <-chan time.Time
	if poll > 0 {
		t := time.NewTicker(poll)
		defer t.Stop()
		tick = t.C
	}
	// Another process sharing the journal queues without waking this
	// one: its requests are found by looking again now and then.
	look := time.NewTicker(rescan)
	defer look.Stop()
	for {
		err := d.step(ctx)
		if errors.Is(err, store.ErrNotFound) {
			return true
		}
		if err != nil && ctx.Err() == nil {
			d.s.cfg.Log.Error("dispatching requests", "project", d.name, "err", err)
		}
		select {
		case <-ctx.Done():
			return false
		case <-lease.Lost():
			d.s.cfg.Log.Warn("another process dispatches the project now", "project", d.name, "err", lease.Err())
			return false
		case <-d.wake:
		case <-look.C:
		case <-d.done:
			d.busy = false
		case <-tick:
			if err := d.s.poll(ctx, d.name); err != nil && ctx.Err() == nil {
				d.s.cfg.Log.Warn("polling", "project", d.name, "err", err)
			}
		}
	}
}

// stopped forgets the dispatcher; a project added again meanwhile gets a
// new one.
func (d *dispatcher) stopped(ctx context.Context) {
	d.s.mu.Lock()
	delete(d.s.dispatching, d.name)
	d.s.mu.Unlock()
	if ctx.Err() != nil {
		return
	}
	if _, err := d.s.cfg.Store.Project(ctx, d.name); err == nil {
		select {
		case d.s.kick <- struct{}{}:
		default:
		}
	}
}

// step starts what the project's mode lets start now.
func (d *dispatcher) step(ctx context.Context) error {
	st := d.s.cfg.Store
	p, err := st.Project(ctx, d.name)
	if err != nil {
		return err
	}
	waiting, err := st.Requests(ctx, store.RequestFilter{Project: d.name, State: store.RequestWaiting})
	if err != nil {
		return err
	}
	switch Mode(p.Mode) {
	case Parallel:
		for _, r := range waiting {
			d.start(ctx, p, r, false)
		}
		return nil
	case Superseded:
		if n := len(waiting); n > 1 {
			newest := waiting[n-1]
			gone, err := st.SupersedeRequests(ctx, d.name, newest.ID,
				fmt.Sprintf("superseded by request %d (commit %.12s)", newest.ID, newest.Commit), d.s.cfg.Now())
			if err != nil {
				return err
			}
			for _, r := range gone {
				d.s.cfg.Log.Info("request superseded", "project", d.name, "request", r.ID, "commit", r.Commit, "by", newest.ID)
			}
			waiting = waiting[n-1:]
		}
	}
	if !d.busy && len(waiting) > 0 {
		// A run of the project this process started outside the queue
		// (one resumed after a crash) counts as the one at a time.
		if id, err := d.liveRun(ctx); err != nil {
			return err
		} else if id != 0 {
			d.wait(ctx, id)
			return nil
		}
	}
	for !d.busy && len(waiting) > 0 {
		d.start(ctx, p, waiting[0], true)
		waiting = waiting[1:]
	}
	return nil
}

// start takes request r and starts its run, reporting whether it did.
// With oneAtATime, d.done is signalled when the run ends. A run that
// cannot start marks its request failed, with the reason.
func (d *dispatcher) start(ctx context.Context, p store.Project, r store.Request, oneAtATime bool) bool {
	st, log := d.s.cfg.Store, d.s.cfg.Log
	if err := st.TakeRequest(ctx, r.ID, d.s.cfg.Now()); err != nil {
		if !errors.Is(err, fault.Conflict) {
			log.Error("taking a request", "project", d.name, "request", r.ID, "err", err)
		}
		return false
	}
	if err := d.s.present(ctx, p.Name, r.Commit); err != nil {
		log.Warn("the commit of a request is not in the repository", "project", d.name, "request", r.ID, "commit", r.Commit, "err", err)
		if ferr := st.FailRequest(context.WithoutCancel(ctx), r.ID, err.Error(), d.s.cfg.Now()); ferr != nil {
			log.Error("marking a request failed", "project", d.name, "request", r.ID, "err", ferr)
		}
		return false
	}
	req := d.s.cfg.Template
	req.Dir, req.Commit = d.s.cfg.Mirrors.Path(p.Name), r.Commit
	req.Project, req.Branch, req.Trigger = p.Name, r.Branch, r.Trigger
	if req.Jobs < 1 {
		req.Jobs = 1
	}
	id, err := d.s.cfg.Runs.Start(ctx, req)
	if err != nil {
		log.Warn("run of a request could not start", "project", d.name, "request", r.ID, "commit", r.Commit, "err", err)
		if ferr := st.FailRequest(context.WithoutCancel(ctx), r.ID, err.Error(), d.s.cfg.Now()); ferr != nil {
			log.Error("marking a request failed", "project", d.name, "request", r.ID, "err", ferr)
		}
		return false
	}
	if err := st.SetRequestRun(context.WithoutCancel(ctx), r.ID, id); err != nil {
		log.Error("recording the run of a request", "project", d.name, "request", r.ID, "run", id, "err", err)
	}
	log.Info("run started", "project", d.name, "request", r.ID, "run", id, "commit", r.Commit, "trigger", r.Trigger)
	if oneAtATime {
		d.wait(ctx, id)
	}
	return true
}

// wait marks the dispatcher busy until run id ends.
func (d *dispatcher) wait(ctx context.Context, id int64) {
	d.busy = true
	go func() {
		d.s.cfg.Runs.Wait(ctx, id)
		d.done <- struct{}{}
	}()
}

// liveRun is a run of the project executing in this process, 0 if none.
func (d *dispatcher) liveRun(ctx context.Context) (int64, error) {
	list, err := d.s.cfg.Store.Runs(ctx, store.RunFilter{Project: d.name, Limit: 20})
	if err != nil {
		return 0, err
	}
	for _, r := range list {
		if !r.Status.Final() && d.s.cfg.Runs.Live(r.ID) {
			return r.ID, nil
		}
	}
	return 0, nil
}

// present makes sure commit is in the project's mirror, fetching once
// when it is not (a webhook's commit is queued before it is fetched).
func (s *Service) present(ctx context.Context, name, commit string) error {
	if got, err := s.cfg.Mirrors.Resolve(ctx, name, commit); err == nil && got == commit {
		return nil
	}
	if err := s.cfg.Mirrors.Fetch(ctx, name); err != nil {
		return fmt.Errorf("commit %.12s is not in the mirror and the fetch failed: %w", commit, err)
	}
	if got, err := s.cfg.Mirrors.Resolve(ctx, name, commit); err != nil || got != commit {
		return fmt.Errorf("commit %s is not in the project's repository after a fetch", commit)
	}
	return nil
}

// poll fetches the project's repository and queues its branch's head
// when it moved since last seen.
func (s *Service) poll(ctx context.Context, name string) error {
	if err := s.cfg.Mirrors.Fetch(ctx, name); err != nil {
		return err
	}
	p, err := s.cfg.Store.Project(ctx, name)
	if err != nil {
		return err
	}
	heads, err := s.cfg.Mirrors.Heads(ctx, name)
	if err != nil {
		return err
	}
	head := heads["refs/heads/"+p.Branch]
	if head == "" || head == p.Head {
		return nil
	}
	if _, err := s.queue(ctx, store.Request{Project: name, Commit: head, Branch: p.Branch, Trigger: "poll"}); err != nil {
		return err
	}
	return s.cfg.Store.SetProjectHead(ctx, name, head)
}
