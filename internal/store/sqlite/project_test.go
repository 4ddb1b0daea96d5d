package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/store/sqlite"
	"github.com/velocity-ci/velocity/internal/store/storetest"
)

func openForTest(t *testing.T) *sqlite.Store {
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "velocity.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestProjectsConformance(t *testing.T) {
	storetest.RunProjects(t, func(t *testing.T) store.Projects { return openForTest(t) })
}

func TestRequestsConformance(t *testing.T) {
	storetest.RunRequests(t, func(t *testing.T) store.Requests { return openForTest(t) })
}
