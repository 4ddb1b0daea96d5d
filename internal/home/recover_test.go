package home

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/lockfile"
	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/store/sqlite"
)

// A live run is interrupted when nothing owns it any more: its lock is
// not held and its lease, if any, has expired — or its lock file is on
// this machine, unheld, because its owner here died.
func TestRecoverInterruptsRunsWithoutOwner(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "velocity.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h := &Home{Dir: dir, Store: st}
	now := time.Now()

	type lock int
	const (
		heldHere   lock = iota // the owner runs on this machine
		unheldHere             // the owner here died; its file stays
		elsewhere              // no file here: the owner, if any, is on another node
	)
	type lease int
	const (
		noLease lease = iota
		liveLease
		expiredLease
	)
	for i, c := range []struct {
		name        string
		lock        lock
		lease       lease
		interrupted bool
		// age is how long ago the run was recorded.
		age time.Duration
	}{
		{"held lock", heldHere, noLease, false, 0},
		{"held lock, expired lease", heldHere, expiredLease, false, 0},
		{"dead owner here, no lease", unheldHere, noLease, true, 0},
		{"dead owner here, lease not yet expired", unheldHere, liveLease, true, 0},
		{"no lock, no lease", elsewhere, noLease, true, 2 * store.DefaultLeaseTTL},
		{"recorded elsewhere, lease not taken yet", elsewhere, noLease, false, 0},
		{"owner on another node", elsewhere, liveLease, false, 0},
		{"owner on another node gone", elsewhere, expiredLease, true, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := h.lockPath(fmt.Sprintf("recover-%d", i))
			switch c.lock {
			case heldHere:
				l, err := lockfile.Acquire(path)
				if err != nil {
					t.Fatal(err)
				}
				defer l.Release()
			case unheldHere:
				l, err := lockfile.Acquire(path)
				if err != nil {
					t.Fatal(err)
				}
				l.Close()
			}
			id, err := st.CreateRun(ctx, store.Run{Project: "p", Status: store.Running, Lock: path, Created: now.Add(-c.age)},
				[]store.Action{{StageIndex: 0, Stage: "build", Name: "test", Kind: store.KindAction, Status: store.Pending}})
			if err != nil {
				t.Fatal(err)
			}
			switch c.lease {
			case liveLease:
				_, err = st.AcquireLease(ctx, store.RunLease(id), "node-b/42/x", time.Hour, now)
			case expiredLease:
				_, err = st.AcquireLease(ctx, store.RunLease(id), "node-b/42/x", time.Minute, now.Add(-time.Hour))
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := h.recover(ctx); err != nil {
				t.Fatal(err)
			}
			r, err := st.Run(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Status == store.Interrupted; got != c.interrupted {
				t.Errorf("status %s, want interrupted %v", r.Status, c.interrupted)
			}
			// A dead holder's lease goes with its run, so that nobody
			// waits for it to expire; a live one stays.
			_, err = st.Lease(ctx, store.RunLease(id))
			if gone := errors.Is(err, store.ErrNotFound); c.lease != noLease && gone != c.interrupted {
				t.Errorf("lease after recovery: %v; want released %v", err, c.interrupted)
			}
		})
	}
}

// A run whose owner noted its name in the lock file is interrupted with a
// reason naming it, and one of velocity serve is marked to be resumed with
// its request; a lock file without a note, or with something that is not
// one, gives the general reason and no mark.
func TestRecoverNamesTheDeadOwnerAndMarksServerRunsToResume(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "velocity.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h := &Home{Dir: dir, Store: st}
	const general = "velocity stopped while the run was in progress (killed or crashed)"
	for i, c := range []struct {
		note, want string
		resume     bool
	}{
		{`{"owner": "velocity serve", "request": {"dir": "/p", "jobs": 3}}`, "velocity serve stopped while the run was in progress (killed or crashed)", true},
		{`{"owner": "velocity other", "request": {"dir": "/p", "jobs": 3}}`, "velocity other stopped while the run was in progress (killed or crashed)", false},
		{"", general, false},
		{"velocity serve", general, false},
		{`{"owner": "rm -rf /", "request": {"dir": "/p", "jobs": 3}}`, general, false},
		{`{"owner": "velocity serve\nrm -rf /"}`, general, false},
	} {
		path := h.lockPath(fmt.Sprintf("owner-%d", i))
		l, err := lockfile.Acquire(path)
		if err != nil {
			t.Fatal(err)
		}
		if c.note != "" {
			if err := l.Note(c.note); err != nil {
				t.Fatal(err)
			}
		}
		l.Close() // the owner dies; its file stays
		id, err := st.CreateRun(ctx, store.Run{Project: "p", Status: store.Running, Lock: path, Created: time.Now()},
			[]store.Action{{StageIndex: 0, Stage: "build", Name: "test", Kind: store.KindAction, Status: store.Pending}})
		if err != nil {
			t.Fatal(err)
		}
		if err := h.recover(ctx); err != nil {
			t.Fatal(err)
		}
		r, err := st.Run(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != store.Interrupted || r.Reason != c.want {
			t.Errorf("note %q: %s %q, want interrupted %q", c.note, r.Status, r.Reason, c.want)
		}
		mark := filepath.Join(h.resumeDir(), fmt.Sprintf("%d.json", id))
		b, err := os.ReadFile(mark)
		if got := err == nil; got != c.resume {
			t.Errorf("note %q: marked to resume %v, want %v", c.note, got, c.resume)
		}
		if c.resume && string(b) != `{"dir":"/p","jobs":3}` {
			t.Errorf("the mark holds %s", b)
		}
		os.Remove(mark)
	}
}

// A project's run whose node, elsewhere, let its lease expire is left
// live by the recovery every command does: only a velocity serve can
// resume it (TakeOver), and interrupting it here would lose it. A run
// of a directory (no trigger) is interrupted as before.
func TestRecoverLeavesProjectRunsOfDeadNodesToServers(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "velocity.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h := &Home{Dir: dir, Store: st}
	if err := st.CreateProject(ctx, store.Project{Name: "app", Branch: "main", Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	for _, c := range []struct {
		trigger     string
		interrupted bool
	}{{"push by alice", false}, {"", true}} {
		id, err := st.CreateRun(ctx, store.Run{Project: "app", Commit: "abc", Trigger: c.trigger, Status: store.Running,
			Lock: "/elsewhere/locks/x.lock", Created: old},
			[]store.Action{{StageIndex: 0, Stage: "build", Name: "test", Kind: store.KindAction, Status: store.Pending}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.AcquireLease(ctx, store.RunLease(id), "node-a/1/x", time.Minute, old); err != nil {
			t.Fatal(err)
		}
		if err := h.recover(ctx); err != nil {
			t.Fatal(err)
		}
		r, err := st.Run(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Status == store.Interrupted; got != c.interrupted {
			t.Errorf("trigger %q: %s, want interrupted %v", c.trigger, r.Status, c.interrupted)
		}
	}
}

// A run whose owner died here but whose lease another node holds (it is
// taking the run over) is left to that node: of the two, one settles it.
func TestRecoverLeavesARunAnotherNodeClaimed(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "velocity.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h := &Home{Dir: dir, Store: st}
	path := h.lockPath("claimed")
	l, err := lockfile.Acquire(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Note(`{"owner": "velocity serve", "holder": "node-a/1/x", "request": {"dir": "/p", "jobs": 1}}`); err != nil {
		t.Fatal(err)
	}
	l.Close() // the owner dies; its file stays
	id, err := st.CreateRun(ctx, store.Run{Project: "p", Status: store.Running, Lock: path, Created: time.Now()},
		[]store.Action{{StageIndex: 0, Stage: "build", Name: "test", Kind: store.KindAction, Status: store.Pending}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.AcquireLease(ctx, store.RunLease(id), "node-b/2/y", time.Hour, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := h.recover(ctx); err != nil {
		t.Fatal(err)
	}
	if r, err := st.Run(ctx, id); err != nil || r.Status != store.Running {
		t.Errorf("run %+v (%v); want it left running for node B", r, err)
	}
	if _, err := os.Stat(filepath.Join(h.resumeDir(), fmt.Sprintf("%d.json", id))); err == nil {
		t.Errorf("marked to resume here too")
	}
}

// A process that listed a run as live while another settled it (or its
// owner finished it after a pause) must not interrupt it again: a run is
// taken over once.
func TestRecoverLeavesARunSettledSinceItWasListed(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "velocity.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h := &Home{Dir: dir, Store: st}
	id, err := st.CreateRun(ctx, store.Run{Project: "p", Status: store.Running, Created: time.Now().Add(-time.Hour)},
		[]store.Action{{StageIndex: 0, Stage: "build", Name: "test", Kind: store.KindAction, Status: store.Pending}})
	if err != nil {
		t.Fatal(err)
	}
	listed, err := st.Run(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.FinishRun(ctx, id, store.Succeeded, "", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := h.interruptElsewhere(ctx, listed, nil, time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	if r, err := st.Run(ctx, id); err != nil || r.Status != store.Succeeded {
		t.Errorf("run %+v (%v); want it left succeeded", r, err)
	}
}
