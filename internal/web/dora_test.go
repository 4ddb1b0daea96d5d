package web

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/dora"
	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/store/sqlite"
)

// doraSite serves the DORA pages over a real journal holding shop's
// deploys to production on March 30th: c1 live (lead 2h), c2 failed its
// health gate, c3 live 1h07m later (lead 30m) and rolled back to c1 20
// minutes after.
func doraSite(t *testing.T) *httptest.Server {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "velocity.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	day := time.Date(2026, 3, 30, 0, 0, 0, 0, time.UTC)
	at := func(h, m int) time.Time { return day.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute) }
	deploy := func(commit string, committed, started, done time.Time, status store.DeploymentStatus, rollback bool) {
		run, err := st.CreateRun(ctx, store.Run{Project: "shop", Commit: commit, CommitTime: committed, Status: store.Succeeded, Created: committed}, nil)
		if err != nil {
			t.Fatal(err)
		}
		id, err := st.CreateDeployment(ctx, store.Deployment{Environment: "production", Service: "web", Release: "r-" + commit,
			RunID: run, Commit: commit, Status: store.Deploying, Rollback: rollback, Created: started})
		if err != nil {
			t.Fatal(err)
		}
		if status == store.DeployFailed {
			err = st.SetDeploymentStatus(ctx, id, status, "health check failed", done)
		} else {
			err = st.SetLive(ctx, id, status, done)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	deploy("c1", at(8, 0), at(10, 0), at(10, 1), store.Superseded, false)
	deploy("c2", at(11, 0), at(12, 0), at(12, 3), store.DeployFailed, false)
	deploy("c3", at(12, 40), at(13, 0), at(13, 10), store.Superseded, false)
	deploy("c1", at(8, 0), at(13, 20), at(13, 30), store.RolledBack, true)
	s := &Site{Dora: &dora.Service{Runs: st, Deployments: st, Projects: st, Now: func() time.Time { return at(18, 0) }}}
	mux := http.NewServeMux()
	s.doraRoutes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// keyCell finds the key's element and returns its text, tags dropped
// and spaces collapsed.
func keyCell(t *testing.T, page, key string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)data-key="` + key + `"[^>]*>(.*?)</(td|section)>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no %s in the page:\n%s", key, page)
	}
	text := regexp.MustCompile(`<[^>]*>`).ReplaceAllString(m[0][strings.Index(m[0], ">")+1:], " ")
	return strings.Join(strings.Fields(text), " ")
}

func TestDoraProjectPage(t *testing.T) {
	srv := doraSite(t)
	code, page := get(t, srv.URL+"/projects/shop/dora?days=7")
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, page)
	}
	for key, want := range map[string]string{
		"deployment-frequency": "Deployment frequency 0.29 / day high 2 deploys",
		// c1: 2h (its start stands for going live, see dora), c3: 30m.
		"lead-time": "Lead time for changes 1h15m elite 2 changes",
		// c2 failed, c3 was rolled back.
		"change-failure-rate": "Change failure rate 67% low 2 of 3 changes failed",
		// c2: 12:03 to c3 live at 13:10; c3: 13:10 to the rollback
		// live at 13:30.
		"time-to-restore": "Time to restore 43m30s elite 2 of 2 failures restored",
	} {
		if got := keyCell(t, page, key); got != want {
			t.Errorf("%s: %q, want %q", key, got, want)
		}
	}
	for _, chart := range []string{"deploys", "lead-time", "failure-rate", "time-to-restore"} {
		if !strings.Contains(page, `data-chart="`+chart+`"`) {
			t.Errorf("no %s chart", chart)
		}
	}
	if n := strings.Count(page, `<rect class="deploy"`); n != 1 {
		t.Errorf("%d deploy bars, want one (both deploys on the 30th)", n)
	}
	if n := strings.Count(page, `<circle class="lead"`); n != 2 {
		t.Errorf("%d lead time points, want 2", n)
	}
	if !strings.Contains(page, `href="?days=7" aria-current="page"`) {
		t.Errorf("the 7 days window is not marked current")
	}
}

func TestDoraOverviewAndErrors(t *testing.T) {
	srv := doraSite(t)
	code, page := get(t, srv.URL+"/dora")
	if code != http.StatusOK || !strings.Contains(page, `<tr class="project" data-project="shop">`) ||
		!strings.Contains(page, `href="/projects/shop/dora?days=30"`) {
		t.Errorf("overview: status %d:\n%s", code, page)
	}
	if got := keyCell(t, page, "deployment-frequency"); got != "0.07 / day medium 2 deploys" {
		t.Errorf("overview's frequency over 30 days: %q", got)
	}
	if code, _ := get(t, srv.URL+"/projects/shop/dora?days=12"); code != http.StatusBadRequest {
		t.Errorf("days=12: status %d, want 400", code)
	}
	if code, _ := get(t, srv.URL+"/projects/nope/dora"); code != http.StatusNotFound {
		t.Errorf("unknown project: status %d, want 404", code)
	}
	mux := http.NewServeMux()
	(&Site{}).doraRoutes(mux)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/dora", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("without the service: status %d, want 404", rec.Code)
	}
}
