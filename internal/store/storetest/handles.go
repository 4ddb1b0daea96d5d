package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/store"
)

// Handle is one opening of a store, as each velocity process (on one
// machine or on several nodes) holds its own.
type Handle interface {
	store.Leases
	store.ScheduleFires
	store.Workflows
}

// RunAcrossHandles runs the checks of what several processes decide
// through one store: open returns n handles on one new, empty store, each
// with its own connections, closed when the test ends.
func RunAcrossHandles(t *testing.T, open func(t *testing.T, n int) []Handle) {
	t.Run("LeaseOneWinner", func(t *testing.T) { testLeaseAcrossHandles(t, open(t, 6)) })
	t.Run("ScheduleFireTakenOnce", func(t *testing.T) { testFireAcrossHandles(t, open(t, 2)) })
	t.Run("ClaimsKeepLimitAndOrder", func(t *testing.T) { testClaimAcrossHandles(t, open(t, 4)) })
}

// Of processes racing for one lease, exactly one gets it.
func testLeaseAcrossHandles(t *testing.T, stores []Handle) {
	now := time.Now()
	var (
		wg   sync.WaitGroup
		wins = make(chan string, len(stores))
	)
	for i, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			holder := fmt.Sprintf("process-%d", i)
			_, err := s.AcquireLease(ctx, store.RunLease(1), holder, time.Minute, now)
			if err == nil {
				wins <- holder
			} else if !errors.Is(err, store.ErrLeaseHeld) {
				t.Errorf("%s: %v", holder, err)
			}
		}()
	}
	wg.Wait()
	close(wins)
	var won []string
	for w := range wins {
		won = append(won, w)
	}
	if len(won) != 1 {
		t.Fatalf("winners %v, want exactly one", won)
	}
	l, err := stores[0].Lease(ctx, store.RunLease(1))
	if err != nil || l.Holder != won[0] {
		t.Fatalf("lease %+v, %v; want held by %s", l, err, won[0])
	}
}

// Two servers on one store each hold their own connection: the store's
// locking, not one connection's queue, must keep a due time from being
// taken twice.
func testFireAcrossHandles(t *testing.T, stores []Handle) {
	due := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	for day := range 20 {
		due := due.AddDate(0, 0, day)
		var wg sync.WaitGroup
		var mu sync.Mutex
		taken := 0
		for i := range 8 {
			wg.Go(func() {
				ok, err := stores[i%len(stores)].RecordFire(ctx, "web", "nightly", due)
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					mu.Lock()
					taken++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if taken != 1 {
			t.Fatalf("due %v taken %d times by %d handles, want once", due, taken, len(stores))
		}
	}
}

// A concurrency key's limit and queue order hold across processes.
func testClaimAcrossHandles(t *testing.T, stores []Handle) {
	var ids []int64
	for i := range 12 {
		id, err := stores[i%len(stores)].CreateExecution(ctx, store.Execution{
			ARN: fmt.Sprint("arn:aws:states:us-east-1:123456789012:execution:sm:", i), Name: fmt.Sprint(i),
			StateMachine: "sm", ConcurrencyKey: "k", ConcurrencyLimit: 2, Created: time.Now(),
		})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	// Every opening keeps claiming every execution; whenever one is
	// running it finishes it. The order they ran in must be the queue's.
	var mu sync.Mutex
	var order []int64
	running := map[int64]bool{}
	seen := map[int64]bool{}
	var wg sync.WaitGroup
	for _, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				live, err := s.LiveExecutions(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				if len(live) == 0 {
					return
				}
				for _, e := range live {
					ok, err := s.ClaimExecution(ctx, e.ID, time.Now())
					if err != nil {
						t.Error(err)
						return
					}
					if !ok {
						continue
					}
					// Claims only move forward, so an execution queued
					// earlier that is still pending now was pending when
					// this one was claimed: a queue jump.
					for _, earlier := range ids {
						if earlier >= e.ID {
							break
						}
						if x, _ := s.Execution(ctx, earlier); x.Status == store.ExecutionPending {
							t.Errorf("execution %d ran before %d, queued earlier", e.ID, earlier)
						}
					}
					mu.Lock()
					if !seen[e.ID] {
						seen[e.ID] = true
						running[e.ID] = true
						order = append(order, e.ID)
						n := 0
						for _, r := range running {
							if r {
								n++
							}
						}
						if n > 2 {
							t.Errorf("%d executions of key k running at once, limit 2", n)
						}
					}
					mu.Unlock()
					time.Sleep(time.Millisecond)
					mu.Lock()
					if running[e.ID] && s.FinishExecution(ctx, e.ID, store.ExecutionSucceeded, nil, "", "", time.Now()) == nil {
						running[e.ID] = false
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if len(order) != len(ids) {
		t.Fatalf("ran %v, want all of %v", order, ids)
	}
}
