package runs

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/artifact"
	"github.com/velocity-ci/velocity/internal/executor/local"
	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/store/sqlite"
)

// newService is a runs service on a fresh data directory with the real
// journal, blob store and local executor.
func newService(t *testing.T) *Service {
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
	return New(Config{
		Store: st, Leases: st, DataDir: dir, Blobs: blobs, Version: "test", Environ: os.Environ(),
		NewExecutor: func() (Executor, error) {
			ex, err := local.New()
			if err != nil {
				return nil, err
			}
			return ex, nil
		},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
}

// project writes a velocity.yml into a new directory.
func project(t *testing.T, yml string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "velocity.yml"), []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// collect reads a stream to its end.
func collect(t *testing.T, events <-chan Event) []Event {
	t.Helper()
	var all []Event
	timeout := time.After(30 * time.Second)
	for {
		select {
		case e, ok := <-events:
			if !ok {
				return all
			}
			all = append(all, e)
		case <-timeout:
			t.Fatalf("the stream did not end; %d events so far", len(all))
		}
	}
}

// outputLines are the texts of a stream's output events.
func outputLines(events []Event) []string {
	var lines []string
	for _, e := range events {
		if e.Output != nil {
			lines = append(lines, e.Output.Text)
		}
	}
	return lines
}

// waitFor reads events until one satisfies ok, returning those read.
func waitFor(t *testing.T, events <-chan Event, ok func(Event) bool) []Event {
	t.Helper()
	var seen []Event
	timeout := time.After(30 * time.Second)
	for {
		select {
		case e, open := <-events:
			if !open {
				t.Fatalf("the stream ended first: %+v", seen)
			}
			seen = append(seen, e)
			if ok(e) {
				return seen
			}
		case <-timeout:
			t.Fatalf("timed out; seen %+v", seen)
		}
	}
}

func TestLateWatcherSeesEveryLineOnceAndInOrder(t *testing.T) {
	svc := newService(t)
	gate := filepath.Join(t.TempDir(), "go")
	dir := project(t, `
stages:
  - name: build
    actions:
      - name: count
        env: { GATE: "`+gate+`" }
        run: |
          i=1; while [ $i -le 200 ]; do echo "line $i"; i=$((i+1)); done
          while [ ! -f "$GATE" ]; do sleep 0.02; done
          i=201; while [ $i -le 400 ]; do echo "line $i"; i=$((i+1)); done
`)
	ctx := context.Background()
	id, err := svc.Start(ctx, StartRequest{Dir: dir, Jobs: 2})
	if err != nil {
		t.Fatal(err)
	}
	early, err := svc.Watch(ctx, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	firstPart := waitFor(t, early, func(e Event) bool { return e.Output != nil && e.Output.Text == "line 200" })
	// The late watcher arrives while the action is between its two
	// halves, and the second half starts while it reads the first.
	late, err := svc.Watch(ctx, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	lateEvents := collect(t, late)
	earlyEvents := append(firstPart, collect(t, early)...)

	var want []string
	for i := 1; i <= 400; i++ {
		want = append(want, fmt.Sprintf("line %d", i))
	}
	for name, events := range map[string][]Event{"early": earlyEvents, "late": lateEvents} {
		if got := outputLines(events); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s watcher got %d lines, want 400 in order: %q…", name, len(got), got[:min(len(got), 5)])
		}
		for i, e := range events {
			if e.Seq != Cursor(i+1) {
				t.Fatalf("%s watcher: event %d has seq %d: lost or repeated", name, i, e.Seq)
			}
		}
		if events[0].RunStarted == nil || events[len(events)-1].RunFinished == nil {
			t.Errorf("%s watcher: the stream does not run from run_started to run_finished", name)
		}
	}
	if len(earlyEvents) != len(lateEvents) {
		t.Errorf("early watcher saw %d events, late %d", len(earlyEvents), len(lateEvents))
	}
	res, err := svc.Wait(ctx, id)
	if err != nil || res.Run.Status != store.Succeeded {
		t.Fatalf("run ended %v (%v)", res.Run.Status, err)
	}

	// From a cursor, a watcher gets only what follows it.
	rest, err := svc.Watch(ctx, id, earlyEvents[len(earlyEvents)-2].Seq)
	if err != nil {
		t.Fatal(err)
	}
	if tail := collect(t, rest); len(tail) != 1 || tail[0].RunFinished == nil {
		t.Errorf("after the last-but-one event: %+v", tail)
	}
}

func TestCancelStopsTheRunningAction(t *testing.T) {
	svc := newService(t)
	dir := project(t, `
stages:
  - name: build
    actions:
      - { name: hang, run: "echo started; sleep 100" }
      - { name: after, needs: [hang], run: echo never }
`)
	ctx := context.Background()
	id, err := svc.Start(ctx, StartRequest{Dir: dir, Jobs: 2, KillGrace: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	events, err := svc.Watch(ctx, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, events, func(e Event) bool { return e.Output != nil && e.Output.Text == "started" })
	began := time.Now()
	if err := svc.Cancel(ctx, id, false); err != nil {
		t.Fatal(err)
	}
	rest := collect(t, events)
	if took := time.Since(began); took > 10*time.Second {
		t.Errorf("cancelling took %v", took)
	}
	last := rest[len(rest)-1]
	if last.RunFinished == nil || last.RunFinished.Status != store.Cancelled {
		t.Fatalf("last event %+v, want run_finished cancelled", last)
	}
	res, err := svc.Wait(ctx, id)
	if err != nil || res.Run.Status != store.Cancelled {
		t.Fatalf("run ended %v (%v)", res.Run.Status, err)
	}
	if lines := outputLines(rest); len(lines) > 0 {
		t.Errorf("output after the cancel: %q", lines)
	}
	d, err := svc.Show(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if d.Run.Status != store.Cancelled {
		t.Errorf("journal says %s, want cancelled", d.Run.Status)
	}
	if err := svc.Cancel(ctx, 999, false); err == nil {
		t.Error("cancelling an unknown run succeeded")
	}
}

func TestApproveThroughTheService(t *testing.T) {
	svc := newService(t)
	dir := project(t, `
stages:
  - name: build
    actions:
      - { name: compile, run: echo compiled }
  - name: release
    approval: manual
    actions:
      - { name: ship, run: echo shipped }
`)
	ctx := context.Background()
	for _, approved := range []bool{true, false} {
		t.Run(fmt.Sprint("approved=", approved), func(t *testing.T) {
			id, err := svc.Start(ctx, StartRequest{Dir: dir, Jobs: 2, NoCache: true})
			if err != nil {
				t.Fatal(err)
			}
			events, err := svc.Watch(ctx, id, 0)
			if err != nil {
				t.Fatal(err)
			}
			before := waitFor(t, events, func(e Event) bool { return e.ApprovalWaiting != nil })
			if w := before[len(before)-1].ApprovalWaiting; w.Stage != "release" {
				t.Errorf("waiting stage %q", w.Stage)
			}
			if strings.Contains(strings.Join(outputLines(before), "\n"), "shipped") {
				t.Fatal("the stage ran before it was approved")
			}
			if _, err := svc.Approve(ctx, id, "build", true, "test"); err == nil {
				t.Error("approving a stage that does not wait succeeded")
			}
			stage, err := svc.Approve(ctx, id, "", approved, "test")
			if err != nil || stage != "release" {
				t.Fatalf("approve: %q, %v", stage, err)
			}
			after := collect(t, events)
			var decided *ApprovalDecided
			for _, e := range after {
				if e.ApprovalDecided != nil {
					decided = e.ApprovalDecided
				}
			}
			want := store.Approved
			if !approved {
				want = store.Rejected
			}
			if decided == nil || decided.Status != want || decided.By != "test" {
				t.Errorf("decision event %+v, want %s by test", decided, want)
			}
			shipped := strings.Contains(strings.Join(outputLines(after), "\n"), "shipped")
			if shipped != approved {
				t.Errorf("shipped=%v after approved=%v", shipped, approved)
			}
			res, err := svc.Wait(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if ok := res.Run.Status == store.Succeeded; ok != approved {
				t.Errorf("run %s after approved=%v", res.Run.Status, approved)
			}
		})
	}
}

// TestWatchOfARunElsewhereReplaysTheJournal: a service that did not run
// a run (another process did) streams it from the journal and the logs.
func TestWatchOfARunElsewhereReplaysTheJournal(t *testing.T) {
	svc := newService(t)
	dir := project(t, `
stages:
  - name: build
    actions:
      - { name: one, run: "echo a; echo b" }
      - { name: two, needs: [one], run: "echo c; exit 3" }
`)
	ctx := context.Background()
	id, err := svc.Start(ctx, StartRequest{Dir: dir, Jobs: 2})
	if err != nil {
		t.Fatal(err)
	}
	live := collect(t, mustWatch(t, svc, id))
	other := New(svc.cfg)
	replayed := collect(t, mustWatch(t, other, id))
	if got, want := outputLines(replayed), outputLines(live); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("replayed lines %q, live %q", got, want)
	}
	first, last := replayed[0], replayed[len(replayed)-1]
	if first.RunStarted == nil || len(first.RunStarted.Stages) != 1 || len(first.RunStarted.Stages[0].Actions) != 2 {
		t.Errorf("replay starts with %+v", first)
	}
	if last.RunFinished == nil || last.RunFinished.Status != store.Failed {
		t.Errorf("replay ends with %+v", last)
	}
}

func mustWatch(t *testing.T, svc *Service, id int64) <-chan Event {
	t.Helper()
	events, err := svc.Watch(context.Background(), id, 0)
	if err != nil {
		t.Fatal(err)
	}
	return events
}

// TestWatchOfALiveRunElsewhereFollowsTheJournal: with PollElsewhere, a
// service that does not execute a run (another node does) streams it as
// it goes, from the journal: each event once, through to its end, and a
// reconnecting watcher's cursor holds across the reads.
func TestWatchOfALiveRunElsewhereFollowsTheJournal(t *testing.T) {
	svc := newService(t)
	gate := filepath.Join(t.TempDir(), "gate")
	dir := project(t, `
stages:
  - name: build
    actions:
      - { name: one, run: "echo a" }
      - name: two
        needs: [one]
        run: "while [ ! -e `+gate+` ]; do sleep 0.05; done; echo b"
`)
	ctx := context.Background()
	id, err := svc.Start(ctx, StartRequest{Dir: dir, Jobs: 2})
	if err != nil {
		t.Fatal(err)
	}
	cfg := svc.cfg
	cfg.PollElsewhere = 50 * time.Millisecond
	other := New(cfg)
	events := mustWatch(t, other, id)
	// build/one's end arrives while build/two still waits.
	waitFor(t, events, func(e Event) bool {
		return e.AttemptFinished != nil && e.AttemptFinished.Action == "build/one"
	})
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	rest := collect(t, events)
	if len(rest) == 0 || rest[len(rest)-1].RunFinished == nil || rest[len(rest)-1].RunFinished.Status != store.Succeeded {
		t.Fatalf("stream of the run elsewhere ends with %+v, want the run's success", rest)
	}
	finished := 0
	for _, e := range rest {
		if e.AttemptFinished != nil {
			finished++
			if e.AttemptFinished.Action != "build/two" {
				t.Errorf("attempt of %s finished again after it was sent", e.AttemptFinished.Action)
			}
		}
	}
	if finished != 1 {
		t.Errorf("%d ends of build/two, want 1", finished)
	}
	// A watcher coming back after the second event gets the rest, the
	// same numbers.
	all := collect(t, mustWatch(t, other, id))
	again, err := other.Watch(ctx, id, all[1].Seq)
	if err != nil {
		t.Fatal(err)
	}
	if tail := collect(t, again); len(tail) != len(all)-2 || tail[0].Seq != all[2].Seq || tail[0].Kind != all[2].Kind {
		t.Errorf("from cursor %d: %d events starting %+v; want %d starting %+v", all[1].Seq, len(tail), tail, len(all)-2, all[2])
	}
}
