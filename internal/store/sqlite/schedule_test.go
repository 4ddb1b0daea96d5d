package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

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

// Each velocity process opens its own Store on the data directory's file:
// what they decide through it (a lease, a schedule's fire, a slot of a
// concurrency key) is decided once across them.
func TestAcrossOpenings(t *testing.T) {
	storetest.RunAcrossHandles(t, func(t *testing.T, n int) []storetest.Handle {
		path := filepath.Join(t.TempDir(), "velocity.db")
		var out []storetest.Handle
		for range n {
			s, err := sqlite.Open(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			out = append(out, s)
		}
		return out
	})
}
