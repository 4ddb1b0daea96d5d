package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/store/sqlite"
	"github.com/velocity-ci/velocity/internal/store/storetest"
)

func TestWorkflowConformance(t *testing.T) {
	storetest.RunWorkflows(t, func(t *testing.T) store.Workflows {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "velocity.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// Each velocity process opens its own Store on the data directory's file:
// a concurrency key's limit holds across them.
func TestClaimAcrossOpenings(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "velocity.db")
	var stores []*sqlite.Store
	for range 4 {
		s, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores = append(stores, s)
	}
	var ids []int64
	for i := range 12 {
		id, err := stores[i%4].CreateExecution(ctx, store.Execution{
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

// Histories recorded by earlier versions, one row of workflow_events per
// event, keep reading, merged with the events appended since.
func TestWorkflowMixedHistories(t *testing.T) {
	storetest.RunMixedHistories(t, func(t *testing.T) (store.Workflows, storetest.RecordAsBefore) {
		s, other := openJournal(t)
		return s, func(t *testing.T, id int64, events []store.Event) {
			t.Helper()
			for _, e := range events {
				if _, err := other.Exec(`INSERT INTO workflow_events (execution_id, id, type, at, body) VALUES (?, ?, ?, ?, ?)`,
					id, e.ID, e.Type, e.At.UnixNano(), e.Body); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}
