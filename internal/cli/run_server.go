package cli

import (
	"context"
	"errors"
	"net/http"
	"sync"

	"github.com/velocity-ci/velocity/internal/home"
	"github.com/velocity-ci/velocity/internal/runs"
	"github.com/velocity-ci/velocity/internal/server"
)

// runControl is what following a run in the terminal needs: the runs
// service of this process, or the one velocity serve hosts.
type runControl interface {
	Watch(ctx context.Context, id int64, from runs.Cursor) (<-chan runs.Event, error)
	Cancel(ctx context.Context, id int64, force bool) error
	Approve(ctx context.Context, id int64, stage string, approved bool, by string) (string, error)
	Show(ctx context.Context, id int64) (runs.Details, error)
	Wait(ctx context.Context, id int64) (runs.Result, error)
}

var (
	_ runControl = (*runs.Service)(nil)
	_ runControl = followed{}
	_ runControl = (*serverRuns)(nil)
)

// runOnServer starts the run on the velocity serve that owns the data
// directory and renders it from the events it streams, as if it ran here.
func (a *app) runOnServer(ctx context.Context, h *home.Home, req runs.StartRequest, o runRequest, live bool) error {
	c, _ := h.DialServer(ctx)
	if c == nil {
		return usageError("--server: no velocity serve owns %s; start one with 'velocity serve', or run here without --server", h.Dir)
	}
	defer c.Close()
	id, err := c.StartRun(ctx, req)
	var se *server.Error
	if errors.As(err, &se) && se.Code == http.StatusBadRequest {
		return usageError("%s", se.Message)
	}
	if err != nil {
		return err
	}
	ctl := &serverRuns{client: c, journal: h.RunsReader()}
	if err := a.follow(ctx, ctl, id, o, live); err != nil {
		return err
	}
	return a.runExit(ctx, ctl, id)
}

// runJournal is what the journal holds about runs: the local data
// directory's (the runs service), or a remote server's.
type runJournal interface {
	Show(ctx context.Context, id int64) (runs.Details, error)
	Wait(ctx context.Context, id int64) (runs.Result, error)
}

// serverRuns follows a run velocity serve executes: its events and
// control through the server, what the journal holds from the shared
// data directory.
type serverRuns struct {
	client  *server.Client
	journal runJournal
	mu      sync.Mutex
	// failure is the run_finished event's error: the run stopped for a
	// reason of Velocity's own.
	failure string
	// lost is why the stream broke off before its end.
	lost error
}

func (s *serverRuns) Watch(ctx context.Context, id int64, from runs.Cursor) (<-chan runs.Event, error) {
	ev, err := s.client.WatchRun(ctx, id, from, true)
	if err != nil {
		return nil, err
	}
	out := make(chan runs.Event)
	go func() {
		defer close(out)
		for e := range ev.C {
			if e.RunFinished != nil && e.RunFinished.Error != "" {
				s.mu.Lock()
				s.failure = e.RunFinished.Error
				s.mu.Unlock()
			}
			out <- e
		}
		s.mu.Lock()
		s.lost = ev.Err()
		s.mu.Unlock()
	}()
	return out, nil
}

func (s *serverRuns) Cancel(ctx context.Context, id int64, force bool) error {
	return s.client.CancelRun(ctx, id, force)
}

func (s *serverRuns) Approve(ctx context.Context, id int64, stage string, approved bool, by string) (string, error) {
	return s.client.ApproveRun(ctx, id, stage, approved, by)
}

func (s *serverRuns) Show(ctx context.Context, id int64) (runs.Details, error) {
	return s.journal.Show(ctx, id)
}

// lostErr is why the run's stream broke off before its end, if it did.
func (s *serverRuns) lostErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lost
}

// Wait reads how the run ended from the journal, once its stream ended.
func (s *serverRuns) Wait(ctx context.Context, id int64) (runs.Result, error) {
	s.mu.Lock()
	failure, lost := s.failure, s.lost
	s.mu.Unlock()
	if lost != nil {
		return runs.Result{}, lost
	}
	res, err := s.journal.Wait(ctx, id)
	if err == nil && failure != "" {
		res.Err = errors.New(failure)
	}
	return res, err
}
