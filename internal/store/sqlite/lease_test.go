package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/store/sqlite"
	"github.com/velocity-ci/velocity/internal/store/storetest"
)

func TestLeasesConformance(t *testing.T) {
	storetest.RunLeases(t, func(t *testing.T) store.Leases {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "velocity.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// Each velocity process opens its own Store on the data directory's file:
// of processes racing for one lease, exactly one gets it.
func TestLeaseAcrossOpenings(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "velocity.db")
	const n = 6
	stores := make([]*sqlite.Store, n)
	for i := range stores {
		s, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores[i] = s
	}
	now := time.Now()
	var (
		wg   sync.WaitGroup
		wins = make(chan string, n)
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
