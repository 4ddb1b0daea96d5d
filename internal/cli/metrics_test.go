package cli

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/home"
	"github.com/velocity-ci/velocity/internal/server"
	"github.com/velocity-ci/velocity/internal/store"
)

// shipped journals a run of shop at commit, committed at committed, and
// its deploy to production started at started: live at done, or failed
// then.
func shipped(t *testing.T, h *home.Home, commit string, committed, started, done time.Time, failed bool) {
	t.Helper()
	ctx := context.Background()
	run, err := h.Store.CreateRun(ctx, store.Run{Project: "shop", Commit: commit, CommitTime: committed, Status: store.Succeeded, Created: committed}, nil)
	if err != nil {
		t.Fatal(err)
	}
	id, err := h.Store.CreateDeployment(ctx, store.Deployment{Environment: "production", Service: "web", Release: "r-" + commit,
		RunID: run, Commit: commit, Status: store.Deploying, Created: started})
	if err != nil {
		t.Fatal(err)
	}
	if failed {
		err = h.Store.SetDeploymentStatus(ctx, id, store.DeployFailed, "health check failed", done)
	} else {
		err = h.Store.SetLive(ctx, id, store.Superseded, done)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func TestMetricsDora(t *testing.T) {
	dataDir := t.TempDir()
	h, err := home.Open(context.Background(), home.Config{Dir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	// Three days ago is inside the last 7 days at any hour.
	base := time.Now().Add(-72 * time.Hour)
	shipped(t, h, "c1", base.Add(-2*time.Hour), base, base.Add(5*time.Minute), false)
	shipped(t, h, "c2", base.Add(time.Hour), base.Add(2*time.Hour), base.Add(2*time.Hour+3*time.Minute), true)
	shipped(t, h, "c3", base.Add(3*time.Hour), base.Add(4*time.Hour), base.Add(4*time.Hour+10*time.Minute), false)
	h.Close()

	code, out, errOut := velocityOn(t, dataDir, "metrics", "dora", "shop", "--days", "7")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	today := time.Now().UTC()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	want := []string{
		"shop in production, last 7 days (" + today.AddDate(0, 0, -6).Format("2006-01-02") + " to " + today.Format("2006-01-02") + " UTC)",
		"",
		"KEY VALUE FROM BAND",
		// c1 and c3 went live; c2's deploy failed.
		"deployment frequency 0.29 a day 2 deploys high",
		// c1: 2h (its deploy's start stands for going live: the
		// first deploy's live time was overwritten when c3
		// replaced it), c3: 1h10m.
		"lead time for changes median 1h35m 2 changes elite",
		"change failure rate 33% 1 of 3 changes failed low",
		// From c2's failure to c3 live: 2h7m.
		"time to restore median 2h7m 1 of 1 failure restored high",
		"",
		"lead times: < 1 hour: 0 < 1 day: 2 < 1 week: 0 < 1 month: 0 longer: 0",
	}
	if len(lines) != len(want) {
		t.Fatalf("output:\n%s\nwant %d lines", out, len(want))
	}
	for i, w := range want {
		if got := strings.Join(strings.Fields(lines[i]), " "); got != w {
			t.Errorf("line %d: %q, want %q", i+1, got, w)
		}
	}

	code, _, errOut = velocityOn(t, dataDir, "metrics", "dora", "nope")
	if code != ExitFailed || !strings.Contains(errOut, "no project nope") {
		t.Errorf("unknown project: exit %d, %q", code, errOut)
	}
	code, _, errOut = velocityOn(t, dataDir, "metrics", "dora", "shop", "--days", "-1")
	if code != ExitUsage || !strings.Contains(errOut, "a window of -1 days") {
		t.Errorf("--days -1: exit %d, %q", code, errOut)
	}
}

// With VELOCITY_SERVER set, the four keys are the server's, shown as
// the local ones are.
func TestMetricsDoraRemote(t *testing.T) {
	dataDir := t.TempDir()
	h, err := home.Open(context.Background(), home.Config{Dir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	base := time.Now().Add(-72 * time.Hour)
	shipped(t, h, "c1", base.Add(-2*time.Hour), base, base.Add(5*time.Minute), false)
	shipped(t, h, "c2", base.Add(time.Hour), base.Add(2*time.Hour), base.Add(2*time.Hour+3*time.Minute), true)
	srv := httptest.NewServer((&server.Server{Dora: &server.Dora{Service: h.Dora()}}).Handler())
	defer srv.Close()

	code, local, errOut := velocityOn(t, dataDir, "metrics", "dora", "shop", "--days", "7", "--environment", "production")
	if code != ExitOK {
		t.Fatalf("local: exit %d: %s", code, errOut)
	}
	t.Setenv(envServer, srv.URL)
	t.Setenv(envToken, "vel_x")
	code, remote, errOut := velocityOn(t, t.TempDir(), "metrics", "dora", "shop", "--days", "7", "--environment", "production")
	if code != ExitOK || remote != local {
		t.Errorf("remote: exit %d, %q\n%s\nwant the local output:\n%s", code, errOut, remote, local)
	}
	code, _, errOut = velocityOn(t, t.TempDir(), "metrics", "dora", "nope")
	if code != ExitFailed || !strings.Contains(errOut, "no project nope") {
		t.Errorf("remote, unknown project: exit %d, %q", code, errOut)
	}
	code, _, errOut = velocityOn(t, t.TempDir(), "metrics", "dora", "shop", "--days", "400")
	if code != ExitUsage || !strings.Contains(errOut, "a window of 400 days") {
		t.Errorf("remote, too long a window: exit %d, %q", code, errOut)
	}
}
