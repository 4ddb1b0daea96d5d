package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

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
