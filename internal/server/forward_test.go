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
	(&server.Runs{Service: a}).Register(muxA)
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
	resp, err := http.Get(fmt.Sprintf("%s/api/v1/runs/%d/events", apiB.URL, id))
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

	cancel, err := http.Post(fmt.Sprintf("%s/api/v1/runs/%d/cancel", apiB.URL, id), "application/json", strings.NewReader("{}"))
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
	req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/api/v1/runs/%d/cancel", apiB.URL, id), strings.NewReader("{}"))
	req.Header.Set("Velocity-Forwarded-By", "node-c")
	again, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	again.Body.Close()
	if again.StatusCode != http.StatusConflict {
		t.Errorf("a passed-on cancel of a run node b does not execute: %s, want 409 (not running here)", again.Status)
	}
}
