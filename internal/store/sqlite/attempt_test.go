package sqlite_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/store"
)

// RecordAttempts leaves the journal as FinishAttempt for each end, then
// StartAttempt, would: the attempts and their actions, whatever the
// number of ends.
func TestRecordAttemptsIsFinishThenStart(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		ends int
	}{{"one end and a start", 1}, {"two ends and a start", 2}, {"a start alone", 0}} {
		t.Run(c.name, func(t *testing.T) {
			s := openForTest(t)
			acts := []store.Action{{Stage: "s", Name: "a", Kind: "run"}, {Stage: "s", Name: "b", Kind: "run"}, {Stage: "s", Name: "c", Kind: "run"}}
			id, err := s.CreateRun(ctx, store.Run{Project: "p", Status: store.Running, Created: time.Now()}, acts)
			if err != nil {
				t.Fatal(err)
			}
			t0 := time.Unix(1000, 0)
			var ends []store.AttemptEnd
			for i, name := range []string{"a", "b"}[:c.ends] {
				a := store.Attempt{RunID: id, Stage: "s", Action: name, N: 1, Status: store.Running, Log: name + ".log", Started: t0}
				if err := s.StartAttempt(ctx, a); err != nil {
					t.Fatal(err)
				}
				a.Status, a.ExitCode, a.Reason, a.Finished = store.Failed, 3, "exit code 3", t0.Add(time.Duration(i+1)*time.Second)
				a.CacheKey, a.KeyParts = "k-"+name, []byte(`{"f":1}`)
				ends = append(ends, store.AttemptEnd{Attempt: a, Final: true, AllowFailure: i == 0})
			}
			next := store.Attempt{RunID: id, Stage: "s", Action: "c", N: 1, Status: store.Running, Log: "c.log", Started: t0.Add(5 * time.Second)}
			if err := s.RecordAttempts(ctx, ends, &next); err != nil {
				t.Fatal(err)
			}
			got, err := s.Actions(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			status := map[string]store.Action{}
			for _, a := range got {
				status[a.Name] = a
			}
			for i, e := range ends {
				a := status[e.Attempt.Action]
				if a.Status != store.Failed || a.ExitCode != 3 || a.Reason != "exit code 3" || !a.Finished.Equal(e.Attempt.Finished) ||
					a.CacheKey != e.Attempt.CacheKey || a.AllowFailure != (i == 0) {
					t.Errorf("action %s = %+v, want the end recorded", e.Attempt.Action, a)
				}
				kp, err := s.KeyParts(ctx, id, store.Key{Stage: "s", Name: e.Attempt.Action})
				if err != nil || string(kp.Body) != `{"f":1}` {
					t.Errorf("key parts of %s = %q, %v", e.Attempt.Action, kp.Body, err)
				}
			}
			if a := status["c"]; a.Status != store.Running || a.Attempts != 1 || !a.Started.Equal(next.Started) {
				t.Errorf("action c = %+v, want running from its start", a)
			}
		})
	}
}

// A record that fails leaves nothing of itself: the end of an attempt
// that was never started, or the start of an action the run does not
// have, is ErrNotFound, and the other half is not recorded either.
func TestRecordAttemptsIsAllOrNothing(t *testing.T) {
	ctx := context.Background()
	s := openForTest(t)
	acts := []store.Action{{Stage: "s", Name: "a", Kind: "run"}, {Stage: "s", Name: "b", Kind: "run"}}
	id, err := s.CreateRun(ctx, store.Run{Project: "p", Status: store.Running, Created: time.Now()}, acts)
	if err != nil {
		t.Fatal(err)
	}
	a := store.Attempt{RunID: id, Stage: "s", Action: "a", N: 1, Status: store.Running, Log: "a.log", Started: time.Now()}
	if err := s.StartAttempt(ctx, a); err != nil {
		t.Fatal(err)
	}
	a.Status, a.Finished = store.Succeeded, time.Now()
	b := store.Attempt{RunID: id, Stage: "s", Action: "b", N: 1, Status: store.Running, Log: "b.log", Started: time.Now()}

	never := a
	never.N = 2
	if err := s.RecordAttempts(ctx, []store.AttemptEnd{{Attempt: never, Final: true}}, &b); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("end of an attempt never started: %v, want ErrNotFound", err)
	}
	stranger := b
	stranger.Action = "z"
	if err := s.RecordAttempts(ctx, []store.AttemptEnd{{Attempt: a, Final: true}}, &stranger); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("start of an action the run does not have: %v, want ErrNotFound", err)
	}
	if err := s.RecordAttempts(ctx, []store.AttemptEnd{{Attempt: a, Final: true}, {Attempt: never, Final: true}}, &b); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("two ends, one of an attempt never started: %v, want ErrNotFound", err)
	}
	got, err := s.Actions(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	for _, act := range got {
		want := map[string]store.Status{"a": store.Running, "b": store.Pending}[act.Name]
		if act.Status != want {
			t.Errorf("action %s is %s after failed records, want %s", act.Name, act.Status, want)
		}
	}
}
