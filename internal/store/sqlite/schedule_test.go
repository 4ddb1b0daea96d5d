package sqlite_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/store/sqlite"
	"github.com/velocity-ci/velocity/internal/store/storetest"
)

func TestScheduleFiresConformance(t *testing.T) {
	storetest.RunScheduleFires(t, func(t *testing.T) store.ScheduleFires {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "velocity.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// Two servers on one data directory each hold their own connection: the
// database's locking, not one connection's queue, must keep a due time
// from being taken twice.
func TestScheduleFireTakenOnceAcrossHandles(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "velocity.db")
	var stores []*sqlite.Store
	for range 2 {
		s, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores = append(stores, s)
	}
	due := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	for day := range 20 {
		due := due.AddDate(0, 0, day)
		var wg sync.WaitGroup
		var mu sync.Mutex
		taken := 0
		for i := range 8 {
			wg.Go(func() {
				ok, err := stores[i%2].RecordFire(ctx, "web", "nightly", due)
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
			t.Fatalf("due %v taken %d times by two handles, want once", due, taken)
		}
	}
}
