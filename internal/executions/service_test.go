package executions

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/store/sqlite"
	"github.com/velocity-ci/velocity/internal/workflow"
)

// newService is a service on a real SQLite journal in a fresh data
// directory, polling fast.
func newService(t *testing.T) (*Service, string) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "velocity.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s := New(ctx, Config{Store: st, DataDir: dir, Poll: 20 * time.Millisecond})
	t.Cleanup(s.Close)
	return s, dir
}

// writeDefinition writes a definition into dir and loads it.
func writeDefinition(t *testing.T, dir, name, src string) *Definition {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	def, err := LoadDefinition(dir, name)
	if err != nil {
		t.Fatal(err)
	}
	return def
}

// waitFor polls until ok holds, or fails the test after 10s.
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

// An execution whose task command runs is stopped through the service
// (the command is killed, the execution ends ABORTED), redriven from the
// state that did not finish (now the command succeeds), and its history
// tells all of it.
func TestStartStopRedriveHistory(t *testing.T) {
	ctx := context.Background()
	s, data := newService(t)
	work := t.TempDir()
	// The first time the command blocks until it is killed; once
	// "release" exists it answers at once.
	def := writeDefinition(t, work, "gate.asl.json", `{"StartAt": "Gate", "States": {
		"Gate": {"Type": "Task", "Resource": "arn:velocity:command", "End": true,
			"Parameters": {"Command": "if [ -f release ]; then echo '{\"passed\": true}'; else touch started; exec sleep 60; fi"}}}}`)

	run, err := s.Start(ctx, StartRequest{Dir: work, Definition: def, Input: []byte(`{"n":1}`), Name: "first", ConcurrencyLimit: 1})
	if err != nil {
		t.Fatal(err)
	}
	e := run.Execution
	if e.StateMachine != "gate" || e.Name != "first" || e.Status != store.ExecutionPending {
		t.Fatalf("recorded %+v", e)
	}
	if !strings.HasPrefix(e.Lock, filepath.Join(data, "locks")+string(filepath.Separator)) {
		t.Errorf("lock %s is not in the data directory's locks", e.Lock)
	}
	type waited struct {
		res Result
		err error
	}
	done := make(chan waited, 1)
	go func() {
		res, err := run.Wait(ctx, Progress{})
		done <- waited{res, err}
	}()
	waitFor(t, "the task command runs", func() bool {
		_, err := os.Stat(filepath.Join(work, "started"))
		return err == nil
	})

	found, err := s.Find(ctx, "first")
	if err != nil || found.ID != e.ID {
		t.Fatalf("Find(first) = %d, %v; want %d", found.ID, err, e.ID)
	}
	stopped, err := s.Stop(ctx, found, "Test.Stopped", "the test stopped it")
	if err != nil {
		t.Fatal(err)
	}
	if stopped.Status != store.ExecutionAborted || stopped.Error != "Test.Stopped" || stopped.Cause != "the test stopped it" {
		t.Errorf("stopped: %s %s: %s", stopped.Status, stopped.Error, stopped.Cause)
	}
	select {
	case w := <-done:
		if w.err != nil || w.res.Status != workflow.StatusAborted {
			t.Errorf("Wait after the stop: %s, %v", w.res.Status, w.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return after the stop")
	}
	if _, err := s.Stop(ctx, stopped, "", ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("stopping an ended execution: %v, want ErrInvalid", err)
	}

	if err := os.WriteFile(filepath.Join(work, "release"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	again, err := s.Redrive(ctx, stopped)
	if err != nil {
		t.Fatal(err)
	}
	if again.Execution.RedriveCount != 1 {
		t.Errorf("redrive count %d, want 1", again.Execution.RedriveCount)
	}
	var streamed []string
	res, err := again.Wait(ctx, Progress{Events: func(id int64, events []Event) {
		for _, ev := range events {
			streamed = append(streamed, fmt.Sprintf("%d/%d %s", id, ev.ID, ev.Type))
		}
	}})
	if err != nil || res.Status != StatusSucceeded {
		t.Fatalf("the redriven execution: %s %s %s, %v", res.Status, res.Error, res.Cause, err)
	}
	if _, err := s.Redrive(ctx, again.Execution); !errors.Is(err, ErrInvalid) {
		t.Errorf("redriving a succeeded execution: %v, want ErrInvalid", err)
	}

	events, err := s.History(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, ev := range events {
		types = append(types, string(ev.Type))
	}
	got := strings.Join(types, " ")
	for _, want := range []string{"ExecutionStarted", "TaskStarted", "ExecutionAborted", "ExecutionRedriven", "TaskSucceeded", "ExecutionSucceeded"} {
		if !strings.Contains(got, want) {
			t.Errorf("history has no %s: %s", want, got)
		}
	}
	if strings.Index(got, "ExecutionAborted") > strings.Index(got, "ExecutionRedriven") {
		t.Errorf("history out of order: %s", got)
	}
	// What the redrive journaled reached its Progress as it was written.
	var redriven []string
	for _, ev := range events {
		if len(redriven) > 0 || ev.Type == workflow.ExecutionRedriven {
			redriven = append(redriven, fmt.Sprintf("%d/%d %s", e.ID, ev.ID, ev.Type))
		}
	}
	if strings.Join(streamed, ", ") != strings.Join(redriven, ", ") {
		t.Errorf("streamed\n%s\nwant\n%s", streamed, redriven)
	}
	last, err := s.Find(ctx, "last")
	if err != nil || last.ID != e.ID || last.Status != store.ExecutionSucceeded || last.RedriveCount != 1 {
		t.Errorf("Find(last) = %+v, %v", last, err)
	}
}

// A second execution of a concurrency key waits for the first and says
// so through its notify callback; a stop requested while it waits ends
// it ABORTED without running a state.
func TestWaitingForAConcurrencySlotIsNotified(t *testing.T) {
	ctx := context.Background()
	s, _ := newService(t)
	work := t.TempDir()
	def := writeDefinition(t, work, "slow.asl.yaml", "StartAt: Hold\nStates:\n  Hold:\n    Type: Task\n    Resource: arn:velocity:command\n    Parameters:\n      Command: exec sleep 61\n    End: true\n")
	req := StartRequest{Dir: work, Definition: def, Input: []byte(`{}`), ConcurrencyKey: "k", ConcurrencyLimit: 1}
	first, err := s.Start(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	second, err := s.Start(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var said []string
	notify := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		said = append(said, format)
	}
	var wg sync.WaitGroup
	results := make([]Result, 2)
	for i, r := range []*Run{first, second} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], _ = r.Wait(ctx, Progress{Notify: notify})
		}()
	}
	waitFor(t, "the second execution says it waits", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(said) > 0
	})
	if !strings.Contains(said[0], "waits for concurrency key") {
		t.Errorf("notified %q", said[0])
	}
	for _, r := range []*Run{second, first} {
		if _, err := s.Stop(ctx, r.Execution, "", ""); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	for i, res := range results {
		if res.Status != workflow.StatusAborted {
			t.Errorf("execution %d ended %s", i+1, res.Status)
		}
	}
	events, err := s.History(ctx, second.Execution.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events {
		if ev.Type == workflow.TaskScheduled {
			t.Errorf("the waiting execution ran a task: %v", ev)
		}
	}
}
