package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

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

func TestNodesConformance(t *testing.T) {
	storetest.RunNodes(t, func(t *testing.T) store.Nodes {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "velocity.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
