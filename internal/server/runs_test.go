package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/artifact"
	"github.com/velocity-ci/velocity/internal/executor/local"
	"github.com/velocity-ci/velocity/internal/runs"
	"github.com/velocity-ci/velocity/internal/server"
	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/store/sqlite"
)

// runsAPI serves the runs API of a real runs service (journal, executor,
// processes) on a unix socket and returns a client of it.
func runsAPI(t *testing.T) *server.Client {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "velocity.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	blobs, err := artifact.OpenBlobs(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	svc := runs.New(runs.Config{
		Store: st, DataDir: dir, Blobs: blobs, Version: "test", Environ: os.Environ(),
		NewExecutor: func() (runs.Executor, error) {
			ex, err := local.New()
			if err != nil {
				return nil, err
			}
			return ex, nil
		},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	mux := http.NewServeMux()
	(&server.Runs{Service: svc}).Register(mux)
	sock := filepath.Join(t.TempDir(), "velocity.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewUnstartedServer(mux)
	api.Listener = ln
	api.Start()
	c := server.NewClient(sock)
	t.Cleanup(func() {
		c.Close()
		api.Close()
	})
	return c
}

func projectDir(t *testing.T, yml string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "velocity.yml"), []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// drain reads a stream to its end.
func drain(t *testing.T, ev *server.RunEvents) []runs.Event {
	t.Helper()
	var all []runs.Event
	timeout := time.After(30 * time.Second)
	for {
		select {
		case e, ok := <-ev.C:
			if !ok {
				if err := ev.Err(); err != nil {
					t.Fatal(err)
				}
				return all
			}
			all = append(all, e)
		case <-timeout:
			t.Fatalf("the stream did not end; %d events", len(all))
		}
	}
}

func TestRunStartedThroughTheAPIStreamsItsEvents(t *testing.T) {
	c := runsAPI(t)
	ctx := context.Background()
	dir := projectDir(t, `
stages:
  - name: build
    actions:
      - { name: count, run: "for i in 1 2 3; do echo line $i; done" }
`)
	id, err := c.StartRun(ctx, runs.StartRequest{Dir: dir, Jobs: 1})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := c.WatchRun(ctx, id, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	events := drain(t, ev)
	var lines []string
	for i, e := range events {
		if e.Seq != runs.Cursor(i+1) || e.RunID != id {
			t.Fatalf("event %d: seq %d of run %d", i, e.Seq, e.RunID)
		}
		if e.Output != nil {
			lines = append(lines, e.Output.Action+": "+e.Output.Text)
		}
	}
	if got := strings.Join(lines, "|"); got != "build/count: line 1|build/count: line 2|build/count: line 3" {
		t.Errorf("lines %q", got)
	}
	if events[0].RunStarted == nil || events[0].RunStarted.Stages[0].Actions[0].ID != "build/count" {
		t.Errorf("first event %+v", events[0])
	}
	if last := events[len(events)-1]; last.RunFinished == nil || last.RunFinished.Status != store.Succeeded {
		t.Errorf("last event %+v", last)
	}

	// A watcher resuming from a cursor gets only what follows.
	ev, err = c.WatchRun(ctx, id, events[len(events)-3].Seq, true)
	if err != nil {
		t.Fatal(err)
	}
	if rest := drain(t, ev); len(rest) != 2 || rest[0].Seq != events[len(events)-2].Seq {
		t.Errorf("from a cursor: %+v", rest)
	}
}

func TestRunsAPIErrorsAndControl(t *testing.T) {
	c := runsAPI(t)
	ctx := context.Background()
	_, err := c.StartRun(ctx, runs.StartRequest{Dir: t.TempDir(), Jobs: 1})
	var se *server.Error
	if !errors.As(err, &se) || se.Code != http.StatusBadRequest || !strings.Contains(se.Message, "no such file") {
		t.Errorf("a directory without velocity.yml: %v", err)
	}
	if _, err := c.WatchRun(ctx, 42, 0, false); !errors.As(err, &se) || se.Code != http.StatusNotFound {
		t.Errorf("watching an unknown run: %v", err)
	}

	dir := projectDir(t, `
stages:
  - name: build
    actions:
      - { name: compile, run: echo compiled }
  - name: release
    approval: manual
    actions:
      - { name: ship, run: "echo shipping; sleep 100" }
`)
	id, err := c.StartRun(ctx, runs.StartRequest{Dir: dir, Jobs: 1})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := c.WatchRun(ctx, id, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for e := range ev.C {
		seen = append(seen, string(e.Kind))
		switch {
		case e.ApprovalWaiting != nil:
			if stage, err := c.ApproveRun(ctx, id, "", true, "api"); err != nil || stage != "release" {
				t.Fatalf("approve: %q %v", stage, err)
			}
		case e.Output != nil && e.Output.Text == "shipping":
			if err := c.CancelRun(ctx, id, false); err != nil {
				t.Fatal(err)
			}
		case e.RunFinished != nil:
			if e.RunFinished.Status != store.Cancelled {
				t.Errorf("run finished %s, want cancelled", e.RunFinished.Status)
			}
		}
	}
	if err := ev.Err(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(seen, " "); !strings.Contains(got, "approval_waiting") || !strings.Contains(got, "approval_decided") || !strings.HasSuffix(got, "run_finished") {
		t.Errorf("events: %s", got)
	}
	if err := c.CancelRun(ctx, id, false); !errors.As(err, &se) || se.Code != http.StatusConflict {
		t.Errorf("cancelling an ended run: %v", fmt.Sprint(err))
	}
}
