package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/store/postgres/pgtest"
)

// TestServerOnPostgres: velocity serve with its journal in PostgreSQL
// (VELOCITY_STORE) takes tokens, a project and a push as with SQLite, and
// the run it records is listed from another data directory pointed at
// the same database, as from another node.
func TestServerOnPostgres(t *testing.T) {
	t.Setenv("VELOCITY_STORE", pgtest.Schema(t))
	ts := startTeamServer(t)
	repo := project(t, map[string]string{
		"velocity.yml": `
name: app
stages:
  - name: build
    actions:
      - { name: test, run: 'echo "tested $VELOCITY_COMMIT"' }
`,
	})
	git(t, repo, "init", "-q")
	git(t, repo, "add", "-A")
	git(t, repo, "commit", "-qm", "import")
	if r := ts.env.run(t.TempDir(), "project", "add", "app", "--repo", repo); r.code != 0 {
		t.Fatalf("project add: exit %d\n%s", r.code, r.stderr)
	}
	work := t.TempDir()
	remote := "http://velocity:" + ts.tokens["developer"] + "@" + strings.TrimPrefix(ts.api, "http://") + "/git/app.git"
	git(t, work, "clone", "-q", remote, ".")
	pushed := commitFile(t, work, "README", "pushed\n")
	git(t, work, "push", "-q", remote, "main")
	run := ts.waitRun(t, "app", pushed)
	if run.Status != "succeeded" {
		t.Fatalf("the pushed commit's run: %+v\nserver:\n%s", run, ts.out)
	}
	if _, err := os.Stat(filepath.Join(ts.env.home, "velocity.db")); err == nil {
		t.Errorf("the server wrote a SQLite journal beside its PostgreSQL one")
	}

	other := newEnv(t)
	r := other.run(t.TempDir(), "runs")
	if r.code != 0 || !strings.Contains(r.stdout, "app") || !strings.Contains(r.stdout, "succeeded") {
		t.Errorf("velocity runs on another data directory: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
