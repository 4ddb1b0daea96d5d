package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Supervision is the part of an Instance that every runtime supervising
// its own programs shares: the state, restart and exit counts it
// reports, and Stop's two-step protocol (ask, then kill when Stop's
// context ends). A runtime's instance embeds it and its supervisor loop
// watches StopRequested and KillRequested, and calls Ended once nothing
// of the instance is left.
type Supervision struct {
	id string

	mu       sync.Mutex
	state    State
	restarts int
	exits    int
	lastExit string

	stopOnce sync.Once
	stopReq  chan struct{}
	killOnce sync.Once
	killNow  chan struct{}
	exited   chan struct{}
}

// NewSupervision starts the supervision of instance id, in StateStarting.
func NewSupervision(id string) *Supervision {
	return &Supervision{id: id, state: StateStarting,
		stopReq: make(chan struct{}), killNow: make(chan struct{}), exited: make(chan struct{})}
}

// State implements Instance.
func (s *Supervision) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// Restarts implements Instance.
func (s *Supervision) Restarts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.restarts
}

// Exits implements Instance.
func (s *Supervision) Exits() (int, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.exits, s.lastExit
}

// Exited implements Instance.
func (s *Supervision) Exited() <-chan struct{} { return s.exited }

// Stop implements Instance: it asks the supervisor to stop, and to kill
// at once if ctx ends first; either way it returns once Ended was called.
func (s *Supervision) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() { close(s.stopReq) })
	select {
	case <-s.exited:
		return nil
	case <-ctx.Done():
	}
	s.killOnce.Do(func() { close(s.killNow) })
	<-s.exited
	return fmt.Errorf("stop %s: grace period cut short: %w", s.id, ctx.Err())
}

// StopRequested is closed by the first Stop.
func (s *Supervision) StopRequested() <-chan struct{} { return s.stopReq }

// KillRequested is closed when a Stop's context ended before the program
// did: the grace period is over.
func (s *Supervision) KillRequested() <-chan struct{} { return s.killNow }

// SetState records where the instance is.
func (s *Supervision) SetState(st State) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state = st
}

// Running records that a program runs, a restarted one when restarted.
func (s *Supervision) Running(restarted bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state = StateRunning
	if restarted {
		s.restarts++
	}
}

// ExitedAlone records a program that ended without Stop, and how.
func (s *Supervision) ExitedAlone(how string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.exits++
	s.lastExit = how
}

// Ended records the final state and releases Exited and Stop; called
// once, by the supervisor, when nothing of the instance is left.
func (s *Supervision) Ended(final State) {
	s.SetState(final)
	close(s.exited)
}

// AwaitRestart is what a supervisor does when its instance ended without
// being asked to (what says how; uptime is how long it ran, 0 and
// failedStart true for a start that failed): unless Stop was asked, it
// records the exit, says so in log and logger, waits the backoff and
// sets StateStarting. It reports false when Stop was asked, before or
// during the wait: the supervisor then cleans up instead of starting.
func (s *Supervision) AwaitRestart(what string, uptime time.Duration, failedStart bool, b *Backoff, log *Log, logger *slog.Logger) bool {
	select {
	case <-s.StopRequested():
		return false
	default:
	}
	s.ExitedAlone(what)
	delay := b.Next(uptime)
	if failedStart {
		s.SetState(StateFailed)
	} else {
		s.SetState(StateRestarting)
	}
	log.Note(fmt.Sprintf("instance %s %s; restarting in %s", s.id, what, delay))
	logger.Warn("instance exited; restarting", "exit", what, "delay", delay)
	t := time.NewTimer(delay)
	select {
	case <-s.StopRequested():
		t.Stop()
		return false
	case <-t.C:
	}
	s.SetState(StateStarting)
	return true
}
