package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/store/sqlite"
	"github.com/velocity-ci/velocity/internal/store/storetest"
)

func TestDeploymentsConformance(t *testing.T) {
	storetest.RunDeployments(t, func(t *testing.T) store.Deployments {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "velocity.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// Deployments journaled before the files column had a format version (a
// bare JSON array, keyed by Go field names) read as they were written; a
// format newer than this velocity knows is refused, not misread.
func TestDeploymentFilesFormats(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "velocity.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	insert := func(files string) int64 {
		t.Helper()
		res, err := db.Exec(`INSERT INTO deployments (environment, service, release, run_id, status, definition, files, created, updated)
			VALUES ('prod', 'api', 'r1', 1, 'superseded', '{}', ?, 1, 1)`, files)
		if err != nil {
			t.Fatal(err)
		}
		id, _ := res.LastInsertId()
		return id
	}
	old := insert(`[{"Stage":"build","Action":"package","Path":"out/app.py","Mode":420,"Size":447,"Digest":"sha256:9ec8","Link":""}]`)
	d, err := s.Deployment(ctx, old)
	if err != nil {
		t.Fatalf("format 0: %v", err)
	}
	want := []store.Output{{Stage: "build", Action: "package", Path: "out/app.py", Mode: 420, Size: 447, Digest: "sha256:9ec8"}}
	if !reflect.DeepEqual(d.Files, want) {
		t.Errorf("format 0 files = %+v, want %+v", d.Files, want)
	}

	id, err := s.CreateDeployment(ctx, store.Deployment{Environment: "prod", Service: "api", Release: "r2", Status: store.Deploying, Files: want})
	if err != nil {
		t.Fatal(err)
	}
	var text string
	if err := db.QueryRow(`SELECT files FROM deployments WHERE id = ?`, id).Scan(&text); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(text, `{"version":1,"files":[{"Stage":"build",`) {
		t.Errorf("files are journaled as %s", text)
	}

	newer := insert(`{"version":2,"files":[]}`)
	if _, err := s.Deployment(ctx, newer); err == nil || !strings.Contains(err.Error(), "upgrade velocity") {
		t.Errorf("a newer format reads with error %v", err)
	}
}
