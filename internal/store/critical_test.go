package store_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/store"
)

func TestFindCriticalPath(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	sec := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	// act is an action of stage number si that ran from start to end
	// (seconds); a negative start means it never ran.
	act := func(si int, name string, start, end float64, needs ...string) store.Action {
		a := store.Action{StageIndex: si, Stage: fmt.Sprint("s", si), Name: name, Kind: store.KindAction, Needs: needs}
		if start >= 0 {
			a.Started, a.Finished = sec(start), sec(end)
		}
		return a
	}
	finally := func(si int, name string, start, end float64) store.Action {
		a := act(si, name, start, end)
		a.Kind = store.KindFinally
		return a
	}
	for _, tc := range []struct {
		name      string
		actions   []store.Action
		approvals []store.Approval
		// want is "stage/name+queued" steps, e.g. "s0/package+5s s1/publish+0s".
		want string
	}{{
		name: "an action that queued behind another it does not need is not chained to it",
		actions: []store.Action{
			act(0, "vet", 0, 5),
			act(0, "package", 5, 15),
			act(1, "publish", 15, 16),
		},
		want: "s0/package+5s s1/publish+0s",
	}, {
		name: "the longest chain of needs, not the last to finish",
		actions: []store.Action{
			act(0, "compile", 0, 3),
			act(0, "lint", 0, 6),
			act(0, "test", 3, 8, "compile"),
		},
		want: "s0/compile+0s s0/test+0s",
	}, {
		name: "a need that finished early leaves its dependent queued until a slot frees",
		actions: []store.Action{
			act(0, "x", 0, 2),
			act(0, "y", 2, 4),
			act(0, "z", 4, 6, "x"),
		},
		want: "s0/x+0s s0/z+2s",
	}, {
		name: "the next stage hangs off the longest chain of the previous one",
		actions: []store.Action{
			act(0, "a", 0, 10),
			act(0, "b", 0, 2),
			act(0, "c", 2, 4, "b"),
			act(1, "d", 10, 11),
			act(1, "skipped", -1, 0),
		},
		want: "s0/a+0s s1/d+0s",
	}, {
		name: "waiting for an approval is not queueing",
		actions: []store.Action{
			act(0, "build", 0, 10),
			act(1, "deploy", 30.5, 31),
		},
		approvals: []store.Approval{{Stage: "s1", Status: store.Approved, At: sec(30)}},
		want:      "s0/build+0s s1/deploy+500ms",
	}, {
		name: "finally runs after the stage's actions",
		actions: []store.Action{
			act(0, "a", 0, 5),
			act(0, "b", 0, 1),
			finally(0, "clean", 5, 6),
		},
		want: "s0/a+0s s0/clean+0s",
	}, {
		name:    "nothing ran",
		actions: []store.Action{act(0, "a", -1, 0)},
		want:    "",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			path := store.FindCriticalPath(tc.actions, tc.approvals)
			var got []string
			for _, s := range path {
				got = append(got, fmt.Sprintf("%s/%s+%s", s.Action.Stage, s.Action.Name, s.Queued))
				if s.Ran != s.Action.Finished.Sub(s.Action.Started) {
					t.Errorf("%s ran %s", s.Action.Name, s.Ran)
				}
			}
			if strings.Join(got, " ") != tc.want {
				t.Errorf("critical path %q, want %q", strings.Join(got, " "), tc.want)
			}
		})
	}
}
