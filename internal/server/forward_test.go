package server_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/artifact"
	"github.com/velocity-ci/velocity/internal/executor/local"
	"github.com/velocity-ci/velocity/internal/nodes"
	"github.com/velocity-ci/velocity/internal/runs"
	"github.com/velocity-ci/velocity/internal/server"
	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/store/sqlite"
)

// at says that every run executes on the node at addr.
type at string

func (a at) ExecutorOf(context.Context, int64) (nodes.Node, bool, error) {
	return nodes.Node{Node: store.Node{ID: "node-a", Addr: string(a)}}, true, nil
}

// nodeService is a runs service of a node: a data directory of its own
// on the shared store.
func nodeService(t *testing.T, st *sqlite.Store) *runs.Service {
	t.Helper()
	dir := t.TempDir()
	blobs, err := artifact.OpenBlobs(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	return runs.New(runs.Config{
		Store: st, Leases: st, DataDir: dir, Blobs: blobs, Version: "test", Environ: os.Environ(),
		NewExecutor: func() (runs.Executor, error) {
			ex, err := local.New()
			if err != nil {
				return nil, err
			}
			return ex, nil
		},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
}

// A node that does not execute a run passes its event stream and its
// cancel to the node that does: the stream carries the output only that
// node has, and the cancel stops the run there.
func TestNodePassesRunRequestsToTheNodeExecutingTheRun(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "velocity.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a, b := nodeService(t, st), nodeService(t, st)
	muxA := http.NewServeMux()
	(&server.Runs{Service: a, Self: "node-a"}).Register(muxA)
	apiA := httptest.NewServer(muxA)
	t.Cleanup(apiA.Close)
	muxB := http.NewServeMux()
	(&server.Runs{Service: b, Nodes: at(apiA.URL), Self: "node-b"}).Register(muxB)
	apiB := httptest.NewServer(muxB)
	t.Cleanup(apiB.Close)

	ctx := context.Background()
	id, err := a.Start(ctx, runs.StartRequest{Dir: projectDir(t, `
stages:
  - name: build
    actions:
      - { name: wait, run: "echo only-on-node-a; exec sleep 60" }
`), Jobs: 1})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := do(http.MethodGet, fmt.Sprintf("%s/api/v1/runs/%d/events", apiB.URL, id), "Bearer token", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Velocity-Executed-By") != "node-a" {
		t.Fatalf("events through node b: %s, executed by %q", resp.Status, resp.Header.Get("Velocity-Executed-By"))
	}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	for deadline := time.After(20 * time.Second); ; {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("the stream through node b ended without node a's output")
			}
			if !strings.Contains(l, "only-on-node-a") {
				continue
			}
		case <-deadline:
			t.Fatal("node a's output did not come through node b")
		}
		break
	}

	// Without a credential (the control socket's callers) node b answers
	// itself: it does not execute the run.
	if st := status(t, http.MethodPost, fmt.Sprintf("%s/api/v1/runs/%d/cancel", apiB.URL, id), "", nil); st != http.StatusConflict {
		t.Errorf("cancel through node b without a credential: %d, want 409 (not running here)", st)
	}
	cancel, err := do(http.MethodPost, fmt.Sprintf("%s/api/v1/runs/%d/cancel", apiB.URL, id), "Bearer token", nil)
	if err != nil {
		t.Fatal(err)
	}
	cancel.Body.Close()
	if cancel.StatusCode != http.StatusOK {
		t.Fatalf("cancel through node b: %s", cancel.Status)
	}
	wctx, stop := context.WithTimeout(ctx, 30*time.Second)
	defer stop()
	res, err := a.Wait(wctx, id)
	if err != nil || res.Run.Status != store.Cancelled {
		t.Fatalf("run on node a after a cancel through node b: %+v, %v", res, err)
	}

	// A request another node passed on is answered here, never passed on
	// again: two nodes that disagree cannot bounce it.
	if st := status(t, http.MethodPost, fmt.Sprintf("%s/api/v1/runs/%d/cancel", apiB.URL, id), "Bearer token",
		map[string]string{"Velocity-Forwarded-By": "node-c"}); st != http.StatusConflict {
		t.Errorf("a passed-on cancel of a run node b does not execute: %d, want 409 (not running here)", st)
	}
}

// A node that cannot reach the node executing a run, or is given an
// address no node can dial (a node listening on all interfaces reports
// [::]), answers from the journal as if nobody executed the run.
func TestNodeAnswersItselfWhenTheExecutingNodeCannotBeReached(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "velocity.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a := nodeService(t, st)
	ctx := context.Background()
	id, err := a.Start(ctx, runs.StartRequest{Dir: projectDir(t, `
stages:
  - name: build
    actions:
      - { name: quick, run: "echo done" }
`), Jobs: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Wait(ctx, id); err != nil {
		t.Fatal(err)
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	for _, addr := range []string{closed.URL, "http://[::]:1", "http://0.0.0.0:1", "unix:///tmp/x"} {
		b := nodeService(t, st)
		mux := http.NewServeMux()
		(&server.Runs{Service: b, Nodes: at(addr), Self: "node-b"}).Register(mux)
		api := httptest.NewServer(mux)
		if got := status(t, http.MethodPost, fmt.Sprintf("%s/api/v1/runs/%d/cancel", api.URL, id), "Bearer token", nil); got != http.StatusConflict {
			t.Errorf("node a at %s: cancel through node b %d, want 409 from node b (the body kept for it)", addr, got)
		}
		resp, err := do(http.MethodGet, fmt.Sprintf("%s/api/v1/runs/%d/events", api.URL, id), "Bearer token", nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "run_finished") {
			t.Errorf("node a at %s: events through node b %s, want node b's replay to the run's end:\n%s", addr, resp.Status, body)
		}
		api.Close()
	}
}

func do(method, url, auth string, header map[string]string) (*http.Response, error) {
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader("{}")
	}
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		return nil, err
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return http.DefaultClient.Do(req)
}

func status(t *testing.T, method, url, auth string, header map[string]string) int {
	t.Helper()
	resp, err := do(method, url, auth, header)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
