package task

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/store/sqlite"
)

func TestWaitForTaskTokenCompletedFromTheStore(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "velocity.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// Another opening of the database plays the other process.
	other, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	id, err := st.CreateExecution(ctx, store.Execution{ARN: "arn:x", Name: "x", StateMachine: "sm", Created: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	r := &Resources{Dir: dir, Tokens: st, ExecutionID: id, PollInterval: 10 * time.Millisecond}
	var beats atomic.Int32
	run := func(token string) (any, error) {
		return r.Invoke(ctx, Request{
			Resource: CommandResource + ".waitForTaskToken", StateName: "Approve", ExecutionID: "1", TaskToken: token,
			Input:     mustJSON(t, `{"Command": "echo \"$VELOCITY_TASK_TOKEN\" > token.txt"}`),
			Heartbeat: func() { beats.Add(1) },
		})
	}
	done := make(chan error, 1)
	var out any
	go func() {
		var err error
		out, err = run("tok-1")
		done <- err
	}()
	waitFor(t, func() bool {
		tk, err := other.TaskToken(ctx, "tok-1")
		return err == nil && tk.Status == store.TokenWaiting
	})
	if got := readTrim(t, filepath.Join(dir, "token.txt")); got != "tok-1" {
		t.Errorf("the command got token %q", got)
	}
	if err := other.HeartbeatTaskToken(ctx, "tok-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return beats.Load() == 1 })
	if err := other.CompleteTaskToken(ctx, "tok-1", store.TokenSucceeded, []byte(`{"approved": true}`), "", "", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if asJSON(t, out) != `{"approved":true}` {
		t.Errorf("output %s", asJSON(t, out))
	}
	if tk, _ := st.TaskToken(ctx, "tok-1"); tk.ExecutionID != id {
		t.Errorf("token recorded for execution %d", tk.ExecutionID)
	}

	// A token already completed (the task is run again after a restart)
	// answers at once, without running the command again.
	_, err = run("tok-1")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _, err := run("tok-2"); done <- err }()
	waitFor(t, func() bool { _, err := other.TaskToken(ctx, "tok-2"); return err == nil })
	other.CompleteTaskToken(ctx, "tok-2", store.TokenFailed, nil, "Rejected", "not today", time.Now())
	if f := failure(t, <-done); f.Name != "Rejected" || f.Cause != "not today" {
		t.Errorf("failure %+v", f)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func readTrim(t *testing.T, path string) string {
	t.Helper()
	var s string
	waitFor(t, func() bool {
		b, err := os.ReadFile(path)
		s = strings.TrimSpace(string(b))
		return err == nil && s != ""
	})
	return s
}
