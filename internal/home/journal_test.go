package home_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/fault"
	"github.com/velocity-ci/velocity/internal/home"
	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/store/postgres/pgtest"
)

// With a PostgreSQL URL the journal is kept there, not in the data
// directory: a second opening, from another data directory as another
// node would, reads the run the first recorded.
func TestJournalInPostgres(t *testing.T) {
	ctx := context.Background()
	url := pgtest.Schema(t)
	dir := t.TempDir()
	h, err := home.Open(ctx, home.Config{Dir: dir, Store: url})
	if err != nil {
		t.Fatal(err)
	}
	id, err := h.Store.CreateRun(ctx, store.Run{Project: "shop", Status: store.Running, Created: time.Unix(100, 0)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Store.FinishRun(ctx, id, store.Succeeded, "", time.Unix(200, 0)); err != nil {
		t.Fatal(err)
	}
	h.Close()
	if _, err := os.Stat(filepath.Join(dir, "velocity.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a SQLite journal was made beside a PostgreSQL one: %v", err)
	}

	other, err := home.Open(ctx, home.Config{Dir: t.TempDir(), Store: url})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	r, err := other.Store.Run(ctx, id)
	if err != nil || r.Project != "shop" || r.Status != store.Succeeded {
		t.Errorf("run seen by another node: %+v, %v", r, err)
	}
}

func TestJournalURLNotPostgres(t *testing.T) {
	_, err := home.Open(context.Background(), home.Config{Dir: t.TempDir(), Store: "mysql://db/velocity"})
	if !errors.Is(err, fault.Invalid) {
		t.Fatalf("a store URL that is not PostgreSQL: %v, want an invalid-argument error", err)
	}
}
