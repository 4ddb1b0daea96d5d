package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/store/sqlite"
)

// fakeClock lets a test decide when the keeper's timers fire. The keeper
// asks for its next timer only once a renewal is done, so receiving that
// request is how the test knows the renewal happened.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	timer chan timer
}

type timer struct {
	d    time.Duration
	fire chan time.Time
}

func newFakeClock(t0 time.Time) *fakeClock {
	return &fakeClock{now: t0, timer: make(chan timer, 16)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	tm := timer{d, make(chan time.Time, 1)}
	c.timer <- tm
	return tm.fire
}

// next waits for the keeper's next timer; the timeout only keeps a broken
// keeper from hanging the test.
func (c *fakeClock) next(t *testing.T) timer {
	t.Helper()
	select {
	case tm := <-c.timer:
		return tm
	case <-time.After(10 * time.Second):
		t.Fatal("the keeper set no timer")
		return timer{}
	}
}

func openLeases(t *testing.T) *sqlite.Store {
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "velocity.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func wantHeld(t *testing.T, s store.Leases, name, holder string, expires time.Time) {
	t.Helper()
	l, err := s.Lease(context.Background(), name)
	if err != nil || l.Holder != holder || !l.Expires.Equal(expires) {
		t.Fatalf("lease %+v, %v; want held by %s until %v", l, err, holder, expires)
	}
}

// flaky fails the renewals it is told to, to stand for a store that is
// briefly unreachable.
type flaky struct {
	store.Leases
	mu    sync.Mutex
	fails int
}

func (f *flaky) failNext(n int) {
	f.mu.Lock()
	f.fails = n
	f.mu.Unlock()
}

func (f *flaky) RenewLease(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (store.Lease, error) {
	f.mu.Lock()
	fail := f.fails > 0
	if fail {
		f.fails--
	}
	f.mu.Unlock()
	if fail {
		return store.Lease{}, errors.New("database is locked")
	}
	return f.Leases.RenewLease(ctx, name, holder, ttl, now)
}

func TestKeeperRenewsUntilReleased(t *testing.T) {
	ctx := context.Background()
	s := openLeases(t)
	t0 := time.Unix(1_000_000, 0)
	c := newFakeClock(t0)
	const ttl = 30 * time.Second
	name := store.RunLease(1)
	k, err := store.KeepLease(ctx, s, name, "me", store.KeepOptions{TTL: ttl, Now: c.Now, After: c.After})
	if err != nil {
		t.Fatal(err)
	}
	wantHeld(t, s, name, "me", t0.Add(ttl))
	if _, err := store.KeepLease(ctx, s, name, "other", store.KeepOptions{TTL: ttl, Now: c.Now, After: c.After}); !errors.Is(err, store.ErrLeaseHeld) {
		t.Fatalf("a second keeper of a kept lease: %v, want held", err)
	}

	tm := c.next(t)
	if tm.d != ttl/3 {
		t.Errorf("renews every %v, want %v", tm.d, ttl/3)
	}
	for i := 1; i <= 3; i++ {
		at := t0.Add(time.Duration(i) * ttl / 3)
		c.set(at)
		tm.fire <- at
		tm = c.next(t)
		wantHeld(t, s, name, "me", at.Add(ttl))
		if got := k.Lease(); !got.Expires.Equal(at.Add(ttl)) {
			t.Errorf("kept lease %+v, want until %v", got, at.Add(ttl))
		}
	}
	select {
	case <-k.Lost():
		t.Fatalf("lost: %v", k.Err())
	default:
	}

	if err := k.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lease(ctx, name); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after release: %v, want no lease", err)
	}
	// Nobody waits for the released lease to expire.
	if _, err := s.AcquireLease(ctx, name, "other", ttl, c.Now()); err != nil {
		t.Errorf("taking a released lease: %v", err)
	}
}

func TestKeeperRidesOutAStoreFailure(t *testing.T) {
	ctx := context.Background()
	s := &flaky{Leases: openLeases(t)}
	t0 := time.Unix(1_000_000, 0)
	c := newFakeClock(t0)
	const ttl = 30 * time.Second
	name := store.RunLease(2)
	k, err := store.KeepLease(ctx, s, name, "me", store.KeepOptions{TTL: ttl, Now: c.Now, After: c.After})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Release(ctx)
	s.failNext(1)
	tm := c.next(t)
	c.set(t0.Add(ttl / 3))
	tm.fire <- c.Now()
	tm = c.next(t)
	if k.Err() != nil {
		t.Fatalf("one failed renewal of a live lease lost it: %v", k.Err())
	}
	wantHeld(t, s, name, "me", t0.Add(ttl))
	at := t0.Add(2 * ttl / 3)
	c.set(at)
	tm.fire <- at
	c.next(t)
	wantHeld(t, s, name, "me", at.Add(ttl))
}

func TestKeeperReportsATakenOverLease(t *testing.T) {
	ctx := context.Background()
	s := openLeases(t)
	t0 := time.Unix(1_000_000, 0)
	c := newFakeClock(t0)
	const ttl = 30 * time.Second
	name := store.ExecutionLease(3)
	k, err := store.KeepLease(ctx, s, name, "me", store.KeepOptions{TTL: ttl, Now: c.Now, After: c.After})
	if err != nil {
		t.Fatal(err)
	}
	// The process stalled past its lease's expiry (a suspended laptop, a
	// long GC pause): another holder took over meanwhile.
	tm := c.next(t)
	late := t0.Add(ttl + time.Second)
	if _, err := s.AcquireLease(ctx, name, "other", ttl, late); err != nil {
		t.Fatal(err)
	}
	c.set(late)
	tm.fire <- late
	select {
	case <-k.Lost():
	case <-time.After(10 * time.Second):
		t.Fatal("the keeper did not report the lost lease")
	}
	if !errors.Is(k.Err(), store.ErrLeaseLost) {
		t.Errorf("Err() = %v, want lost", k.Err())
	}
	if err := k.Release(ctx); err != nil {
		t.Errorf("releasing a lost lease: %v", err)
	}
	wantHeld(t, s, name, "other", late.Add(ttl))
}
