package alerts_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/alerts"
	"github.com/velocity-ci/velocity/internal/releases"
	"github.com/velocity-ci/velocity/internal/store"
)

// receiver is a chat webhook: it keeps the texts posted to it, and
// answers the first fail posts 503.
type receiver struct {
	*httptest.Server
	mu    sync.Mutex
	texts []string
	posts int
	fail  int
	got   chan string
}

func newReceiver(t *testing.T, fail int) *receiver {
	r := &receiver{fail: fail, got: make(chan string, 10)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var body struct{ Text string }
		if req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/json" ||
			json.NewDecoder(req.Body).Decode(&body) != nil {
			http.Error(w, "bad request", 400)
			return
		}
		r.mu.Lock()
		r.posts++
		if r.posts <= r.fail {
			r.mu.Unlock()
			http.Error(w, "try later", 503)
			return
		}
		r.texts = append(r.texts, body.Text)
		r.mu.Unlock()
		r.got <- body.Text
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) wait(t *testing.T) string {
	t.Helper()
	select {
	case s := <-r.got:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("no alert received")
		return ""
	}
}

// none checks nothing more arrives for a while.
func (r *receiver) none(t *testing.T) {
	t.Helper()
	select {
	case s := <-r.got:
		t.Errorf("unexpected alert %q", s)
	case <-time.After(300 * time.Millisecond):
	}
}

func notifier(t *testing.T, webhook string, log io.Writer) *alerts.Notifier {
	n := &alerts.Notifier{
		Targets: func(_ context.Context, project string) (alerts.Target, error) {
			if project != "app" {
				return alerts.Target{}, fmt.Errorf("project %s: %w", project, store.ErrNotFound)
			}
			return alerts.Target{Branch: "main", Webhook: webhook}, nil
		},
		Backoff: 10 * time.Millisecond,
		Timeout: 2 * time.Second,
		Log:     slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	t.Cleanup(n.Close)
	return n
}

// A failed run of the project's branch alerts; a success, a failure on
// another branch and a run of no project do not.
func TestFailedRunOfTheBranchAlerts(t *testing.T) {
	r := newReceiver(t, 0)
	n := notifier(t, r.URL+"/services/T000/B000/secret-part", io.Discard)
	n.RunFinished(store.Run{ID: 1, Project: "app", Branch: "main", Status: store.Succeeded})
	n.RunFinished(store.Run{ID: 2, Project: "app", Branch: "feature", Status: store.Failed})
	n.RunFinished(store.Run{ID: 3, Project: "other", Branch: "main", Status: store.Failed})
	n.RunFinished(store.Run{ID: 4, Project: "app", Branch: "main", Commit: "0123456789abcdef0123", Status: store.Failed, Reason: "build/test failed"})
	got := r.wait(t)
	want := "velocity: run 4 of app failed on main (commit 0123456789ab): build/test failed"
	if got != want {
		t.Errorf("alert %q, want %q", got, want)
	}
	r.none(t)
}

// Failed deploys and every rollback alert; a deploy that went live
// does not.
func TestFailedDeploysAndRollbacksAlert(t *testing.T) {
	r := newReceiver(t, 0)
	n := notifier(t, r.URL+"/hook", io.Discard)
	n.DeployFinished(releases.DeployEnd{Project: "app", Environment: "prod", Service: "web", Release: "r3"})
	n.DeployFinished(releases.DeployEnd{Project: "app", Environment: "prod", Service: "web", Release: "r4",
		Err: errors.New("health check: GET /: 500\nmore lines")})
	if got := r.wait(t); got != "velocity: deploy of web release r4 to prod failed (project app): health check: GET /: 500" {
		t.Errorf("failed deploy alert %q", got)
	}
	n.DeployFinished(releases.DeployEnd{Project: "app", Environment: "prod", Service: "web", Release: "r3", Rollback: true})
	if got := r.wait(t); got != "velocity: prod/web rolled back to release r3 (project app)" {
		t.Errorf("rollback alert %q", got)
	}
	r.none(t)
}

// A webhook answering 503 is tried again with backoff, and the log
// names its host only: the path of a chat webhook is its secret.
func TestRetriesAndNeverLogsTheWebhookPath(t *testing.T) {
	r := newReceiver(t, 2)
	var log syncBuffer
	n := notifier(t, r.URL+"/services/T000/B000/secret-part?token=also-secret", &log)
	n.RunFinished(store.Run{ID: 9, Project: "app", Branch: "main", Status: store.Failed})
	if got := r.wait(t); !strings.HasPrefix(got, "velocity: run 9 of app failed") {
		t.Errorf("alert %q", got)
	}
	if r.posts != 3 {
		t.Errorf("%d posts, want 3 (two 503s, then accepted)", r.posts)
	}

	// A webhook that is down: bounded attempts, then a warning.
	down := newReceiver(t, 0)
	downURL := down.URL + "/services/T000/B000/secret-part"
	down.Close()
	n2 := notifier(t, downURL, &log)
	n2.RunFinished(store.Run{ID: 10, Project: "app", Branch: "main", Status: store.Failed})
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(log.String(), "alert not posted") {
		if time.Now().After(deadline) {
			t.Fatalf("no warning logged:\n%s", log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	out := log.String()
	if strings.Contains(out, "secret-part") || strings.Contains(out, "also-secret") {
		t.Errorf("the log shows the webhook's path or query:\n%s", out)
	}
	if !strings.Contains(out, "host="+strings.TrimPrefix(r.URL, "http://")) {
		t.Errorf("the log does not name the webhook's host:\n%s", out)
	}
}

// A run's goroutine never waits for a webhook: telling the notifier
// returns at once even when the webhook hangs.
func TestNeverBlocksTheRun(t *testing.T) {
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-hang }))
	defer srv.Close()
	defer close(hang)
	n := notifier(t, srv.URL, io.Discard)
	start := time.Now()
	for i := range 500 {
		n.RunFinished(store.Run{ID: int64(i), Project: "app", Branch: "main", Status: store.Failed})
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("500 failed runs took %v to report", took)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A closed notifier drops what it is told, and one closed before it
// was told anything starts nothing.
func TestClosedNotifierPostsNothing(t *testing.T) {
	r := newReceiver(t, 0)
	n := notifier(t, r.URL, io.Discard)
	n.Close()
	n.RunFinished(store.Run{ID: 1, Project: "app", Branch: "main", Status: store.Failed})
	r.none(t)
}
