package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/fault"
	"github.com/velocity-ci/velocity/internal/store"
)

// RunLeases runs the leases' suite; open returns an empty store for each
// subtest.
func RunLeases(t *testing.T, open func(t *testing.T) store.Leases) {
	t.Run("AcquireFreeAndGet", func(t *testing.T) { testLeaseAcquire(t, open(t)) })
	t.Run("TakeoverOnlyAfterExpiry", func(t *testing.T) { testLeaseTakeover(t, open(t)) })
	t.Run("RenewalByTheHolderOnly", func(t *testing.T) { testLeaseRenewal(t, open(t)) })
	t.Run("ReleaseByTheHolderOnly", func(t *testing.T) { testLeaseRelease(t, open(t)) })
	t.Run("ConcurrentAcquireOneWins", func(t *testing.T) { testLeaseConcurrentAcquire(t, open(t)) })
}

const leaseTTL = 10 * time.Second

var leaseT0 = time.Unix(1_000_000, 0)

func acquire(t *testing.T, s store.Leases, name, holder string, now time.Time) store.Lease {
	t.Helper()
	l, err := s.AcquireLease(ctx, name, holder, leaseTTL, now)
	if err != nil {
		t.Fatalf("%s acquiring %s at %v: %v", holder, name, now, err)
	}
	if l.Name != name || l.Holder != holder || !l.Expires.Equal(now.Add(leaseTTL)) {
		t.Fatalf("%s acquired %+v", holder, l)
	}
	return l
}

func wantLease(t *testing.T, s store.Leases, name, holder string, expires time.Time) {
	t.Helper()
	l, err := s.Lease(ctx, name)
	if err != nil {
		t.Fatalf("lease %s: %v", name, err)
	}
	if l.Name != name || l.Holder != holder || !l.Expires.Equal(expires) {
		t.Fatalf("lease %+v, want %s held by %s until %v", l, name, holder, expires)
	}
}

func testLeaseAcquire(t *testing.T, s store.Leases) {
	if _, err := s.Lease(ctx, store.RunLease(1)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("lease never acquired: %v, want not found", err)
	}
	acquire(t, s, store.RunLease(1), "a", leaseT0)
	wantLease(t, s, store.RunLease(1), "a", leaseT0.Add(leaseTTL))
	// Leases of different things are independent.
	acquire(t, s, store.ExecutionLease(1), "b", leaseT0)
	wantLease(t, s, store.RunLease(1), "a", leaseT0.Add(leaseTTL))
	// The holder acquiring again extends its lease.
	acquire(t, s, store.RunLease(1), "a", leaseT0.Add(time.Second))
	wantLease(t, s, store.RunLease(1), "a", leaseT0.Add(time.Second+leaseTTL))
}

func testLeaseTakeover(t *testing.T, s store.Leases) {
	name := store.RunLease(2)
	acquire(t, s, name, "a", leaseT0)
	expires := leaseT0.Add(leaseTTL)
	for _, at := range []time.Time{leaseT0, expires.Add(-time.Nanosecond)} {
		cur, err := s.AcquireLease(ctx, name, "b", leaseTTL, at)
		if !errors.Is(err, store.ErrLeaseHeld) || !errors.Is(err, fault.Conflict) {
			t.Fatalf("b acquiring a's live lease at %v: %v, want held (a conflict)", at, err)
		}
		if cur.Holder != "a" || !cur.Expires.Equal(expires) {
			t.Errorf("refusal reports %+v, want a's lease", cur)
		}
		if l := (store.Lease{Expires: expires}); l.Expired(at) {
			t.Errorf("Expired(%v) before %v", at, expires)
		}
	}
	wantLease(t, s, name, "a", expires)
	// At its expiry the lease is free for the taking; the one it was
	// taken from can no longer renew or release it.
	if !(store.Lease{Expires: expires}).Expired(expires) {
		t.Error("a lease is not expired at its expiry")
	}
	acquire(t, s, name, "b", expires)
	wantLease(t, s, name, "b", expires.Add(leaseTTL))
	if _, err := s.RenewLease(ctx, name, "a", leaseTTL, expires); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("a renewing after the takeover: %v, want lost", err)
	}
	if err := s.ReleaseLease(ctx, name, "a"); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("a releasing after the takeover: %v, want lost", err)
	}
	wantLease(t, s, name, "b", expires.Add(leaseTTL))
}

func testLeaseRenewal(t *testing.T, s store.Leases) {
	name := store.ExecutionLease(3)
	acquire(t, s, name, "a", leaseT0)
	at := leaseT0.Add(leaseTTL / 2)
	l, err := s.RenewLease(ctx, name, "a", leaseTTL, at)
	if err != nil || l.Holder != "a" || !l.Expires.Equal(at.Add(leaseTTL)) {
		t.Fatalf("a renewing: %+v, %v", l, err)
	}
	wantLease(t, s, name, "a", at.Add(leaseTTL))
	// Another holder cannot renew it, live or not, and changes nothing.
	if _, err := s.RenewLease(ctx, name, "b", leaseTTL, at); !errors.Is(err, store.ErrLeaseLost) || !errors.Is(err, fault.Conflict) {
		t.Errorf("b renewing a's lease: %v, want lost (a conflict)", err)
	}
	if _, err := s.RenewLease(ctx, store.ExecutionLease(99), "a", leaseTTL, at); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("renewing a lease never acquired: %v, want lost", err)
	}
	wantLease(t, s, name, "a", at.Add(leaseTTL))
	// Once expired, not even the holder may renew: whoever saw it expire
	// may have acted on it. Acquiring again is the way back.
	late := at.Add(leaseTTL)
	if _, err := s.RenewLease(ctx, name, "a", leaseTTL, late); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("a renewing its expired lease: %v, want lost", err)
	}
	wantLease(t, s, name, "a", at.Add(leaseTTL))
	acquire(t, s, name, "a", late)
}

func testLeaseRelease(t *testing.T, s store.Leases) {
	name := store.RunLease(4)
	acquire(t, s, name, "a", leaseT0)
	if err := s.ReleaseLease(ctx, name, "b"); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("b releasing a's lease: %v, want lost", err)
	}
	wantLease(t, s, name, "a", leaseT0.Add(leaseTTL))
	if err := s.ReleaseLease(ctx, name, "a"); err != nil {
		t.Fatalf("a releasing: %v", err)
	}
	if _, err := s.Lease(ctx, name); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("released lease: %v, want not found", err)
	}
	if err := s.ReleaseLease(ctx, name, "a"); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("releasing twice: %v, want lost", err)
	}
	// A released lease is free at once, long before it would have expired.
	acquire(t, s, name, "b", leaseT0.Add(time.Second))
}

func testLeaseConcurrentAcquire(t *testing.T, s store.Leases) {
	const n = 8
	name := store.RunLease(5)
	// An expired lease is there to be taken over: the race is the same
	// as for a free one, and still only one may win it.
	acquire(t, s, name, "dead", leaseT0.Add(-leaseTTL))
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		winner []string
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			holder := fmt.Sprintf("h%d", i)
			_, err := s.AcquireLease(ctx, name, holder, leaseTTL, leaseT0)
			switch {
			case err == nil:
				mu.Lock()
				winner = append(winner, holder)
				mu.Unlock()
			case !errors.Is(err, store.ErrLeaseHeld):
				t.Errorf("%s: %v", holder, err)
			}
		}()
	}
	wg.Wait()
	if len(winner) != 1 {
		t.Fatalf("winners %v, want exactly one", winner)
	}
	wantLease(t, s, name, winner[0], leaseT0.Add(leaseTTL))
}
