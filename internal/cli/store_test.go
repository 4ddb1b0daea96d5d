package cli

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/store/postgres/pgtest"
)

// $VELOCITY_STORE moves every command's journal to PostgreSQL: a token
// made on one node is listed on another, and no data directory holds a
// SQLite journal.
func TestStoreFromEnvironment(t *testing.T) {
	t.Setenv("VELOCITY_STORE", pgtest.Schema(t))
	one, two := t.TempDir(), t.TempDir()
	if code, _, errOut := velocityOn(t, one, "token", "create", "ci", "--role", "viewer"); code != ExitOK {
		t.Fatalf("create: exit %d: %s", code, errOut)
	}
	code, out, errOut := velocityOn(t, two, "token", "list")
	if code != ExitOK || !strings.Contains(out, "ci") || !strings.Contains(out, "viewer") {
		t.Fatalf("list on another data directory: exit %d, %q, %q", code, out, errOut)
	}
	for _, dir := range []string{one, two} {
		if _, err := os.Stat(filepath.Join(dir, "velocity.db")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s has a SQLite journal: %v", dir, err)
		}
	}
}

// A store that is not PostgreSQL is a usage error naming the value, from
// the flag as from the environment.
func TestStoreNotPostgres(t *testing.T) {
	code, _, errOut := velocityOn(t, t.TempDir(), "serve", "--store", "mysql://db/velocity")
	if code != ExitUsage || !strings.Contains(errOut, `"mysql://db/velocity" is not a PostgreSQL URL`) {
		t.Errorf("serve --store mysql://…: exit %d, %q", code, errOut)
	}
	t.Setenv("VELOCITY_STORE", "sqlite:///tmp/x.db")
	code, _, errOut = velocityOn(t, t.TempDir(), "runs")
	if code != ExitUsage || !strings.Contains(errOut, "sqlite:///tmp/x.db") {
		t.Errorf("VELOCITY_STORE=sqlite://…: exit %d, %q", code, errOut)
	}
}
