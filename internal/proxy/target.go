package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// TargetState is where a target stands in the rotation.
type TargetState int32

const (
	// StateHealthy targets receive new requests.
	StateHealthy TargetState = iota
	// StateUnhealthy targets receive nothing until a health check passes.
	StateUnhealthy
	// StateDraining targets receive nothing new and never come back: a
	// drained instance is about to be stopped.
	StateDraining
)

func (s TargetState) String() string {
	switch s {
	case StateHealthy:
		return "healthy"
	case StateUnhealthy:
		return "unhealthy"
	case StateDraining:
		return "draining"
	}
	return fmt.Sprintf("TargetState(%d)", int32(s))
}

// ErrDraining is returned by WaitHealthy for a target that is draining,
// because such a target will never be healthy again.
var ErrDraining = errors.New("target is draining")

// ErrDrainTimeout is returned by Drain when requests were still in flight
// at the deadline.
var ErrDrainTimeout = errors.New("drain timed out")

// Target is one upstream instance (http://HOST:PORT, the address its
// runtime gives it: 127.0.0.1 for host processes, any host elsewhere).
// Its state and in-flight count are atomics because every request reads
// them; the mutex only guards the rare state transitions and their
// notification.
type Target struct {
	url      *url.URL
	rp       *httputil.ReverseProxy // the net/http path (ServeHTTP)
	pool     *upstreamPool          // the data path (Serve)
	state    atomic.Int32
	inFlight atomic.Int64

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every state change or drain progress
	recent  []CheckResult // the last RecentChecks results, oldest first
}

func newTarget(u *url.URL) *Target {
	return &Target{url: u, changed: make(chan struct{})}
}

// URL is the upstream address.
func (t *Target) URL() *url.URL { return t.url }

func (t *Target) String() string { return t.url.Host }

// State is the target's current state.
func (t *Target) State() TargetState { return TargetState(t.state.Load()) }

// InFlight is the number of requests currently forwarded to the target.
func (t *Target) InFlight() int64 { return t.inFlight.Load() }

// LastCheck is the most recent active health check result; ok is false
// when no check has run yet.
func (t *Target) LastCheck() (res CheckResult, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.recent) == 0 {
		return CheckResult{}, false
	}
	return t.recent[len(t.recent)-1], true
}

// RecentChecks is how many active health check results a target keeps.
const RecentChecks = 3

// Checks returns the last RecentChecks active health check results,
// oldest first, for a failed deploy to show.
func (t *Target) Checks() []CheckResult {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]CheckResult(nil), t.recent...)
}

// MarkHealthy puts an unhealthy target back into rotation. A draining
// target stays draining.
func (t *Target) MarkHealthy() { t.transition(StateUnhealthy, StateHealthy) }

// MarkUnhealthy takes a healthy target out of rotation. A draining target
// stays draining.
func (t *Target) MarkUnhealthy() { t.transition(StateHealthy, StateUnhealthy) }

// transition moves from -> to and wakes waiters; it reports whether it did.
func (t *Target) transition(from, to TargetState) bool {
	if !t.state.CompareAndSwap(int32(from), int32(to)) {
		return false
	}
	t.notify()
	return true
}

func (t *Target) notify() {
	t.mu.Lock()
	close(t.changed)
	t.changed = make(chan struct{})
	t.mu.Unlock()
}

func (t *Target) wait() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.changed
}

// acquire counts a request against the target if it is still healthy.
// Incrementing before re-reading the state pairs with Drain, which sets
// the state before reading the count: one of the two always sees the other,
// so Drain never returns while a request it did not see is being sent.
func (t *Target) acquire() bool {
	t.inFlight.Add(1)
	if t.state.Load() == int32(StateHealthy) {
		return true
	}
	t.release()
	return false
}

func (t *Target) release() {
	if t.inFlight.Add(-1) == 0 && t.state.Load() == int32(StateDraining) {
		t.notify()
	}
}

// WaitHealthy blocks until the target is healthy. On cancellation the error
// carries the last health check result so a failed deploy says why.
func (t *Target) WaitHealthy(ctx context.Context) error {
	for {
		ch := t.wait()
		switch t.State() {
		case StateHealthy:
			return nil
		case StateDraining:
			return fmt.Errorf("%s: %w", t, ErrDraining)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			if res, ok := t.LastCheck(); ok {
				return fmt.Errorf("%s not healthy (last check: %s): %w", t, res, ctx.Err())
			}
			return fmt.Errorf("%s not healthy (not checked yet): %w", t, ctx.Err())
		}
	}
}

// Drain stops new requests to the target and waits until those in flight
// finish, the timeout passes or ctx ends. The target stays draining either
// way: the caller is about to stop the instance.
func (t *Target) Drain(ctx context.Context, timeout time.Duration) error {
	t.state.Store(int32(StateDraining))
	t.notify()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		ch := t.wait()
		n := t.inFlight.Load()
		if n == 0 {
			return nil
		}
		select {
		case <-ch:
		case <-timer.C:
			return fmt.Errorf("drain %s: %d requests still in flight after %s: %w", t, t.inFlight.Load(), timeout, ErrDrainTimeout)
		case <-ctx.Done():
			return fmt.Errorf("drain %s: %w", t, ctx.Err())
		}
	}
}
