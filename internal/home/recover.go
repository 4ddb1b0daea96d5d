package home

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/velocity-ci/velocity/internal/lockfile"
	"github.com/velocity-ci/velocity/internal/runs"
	"github.com/velocity-ci/velocity/internal/store"
)

// recover records as interrupted the live runs that no process owns any
// more. A live run is interrupted when its lock is not held and its lease,
// if it has one, has expired; or, sooner, when its lock file is in this
// data directory and not held: its owner ran here, and the kernel released
// the lock when the owner died, however it died, which is surer than
// waiting for the lease to run out. A run whose lock file is not here but whose
// lease is live belongs to a process on another node sharing the store,
// and is left to it; so is one recorded elsewhere moments ago, whose
// owner takes its lease right after the record. The lease of an
// interrupted run is released on its dead holder's behalf. A run of
// velocity serve is marked to be resumed by the next velocity serve (see
// ResumeRuns); a run of a project that a velocity serve on another node
// executed is left to the velocity serve nodes, which take it over (see
// TakeOver).
func (h *Home) recover(ctx context.Context) error {
	_, err := h.settle(ctx, nil)
	return err
}

// TakeOver settles the live runs nobody owns any more, as recover does,
// and resumes on svc those that a velocity serve on another node was
// executing when it died: each is claimed through its lease, so that of
// several nodes looking at once exactly one resumes it. velocity serve
// calls it now and then.
func (h *Home) TakeOver(ctx context.Context, svc *runs.Service) ([]Resumed, error) {
	return h.settle(ctx, svc)
}

// TakeOverEvery is how often velocity serve calls TakeOver: a third of
// the lease TTL, so that a run is taken over soon after its lease lapses.
func (h *Home) TakeOverEvery() time.Duration { return max(h.leaseTTL()/3, 500*time.Millisecond) }

func (h *Home) settle(ctx context.Context, svc *runs.Service) ([]Resumed, error) {
	live, err := h.Store.LiveRuns(ctx)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	var out []Resumed
	for _, r := range live {
		owned, lease, err := h.owned(ctx, r, now)
		if err != nil {
			return out, err
		}
		if owned {
			continue
		}
		if h.lockedHere(r) {
			if err := h.interruptHere(ctx, r, lease, now); err != nil {
				return out, err
			}
			continue
		}
		res, err := h.interruptElsewhere(ctx, r, lease, now, svc)
		if err != nil {
			return out, err
		}
		if res != nil {
			out = append(out, *res)
		}
	}
	return out, nil
}

// interruptHere interrupts run r whose owner died on this machine.
func (h *Home) interruptHere(ctx context.Context, r store.Run, lease *store.Lease, now time.Time) error {
	note, noted := runs.ReadLockNote(r.Lock)
	if lease != nil {
		if noted && note.Holder != "" && lease.Holder != note.Holder {
			return nil // another node took the run over and settles it
		}
		// Claimed before it is settled: of this process and a node
		// taking the run over at the same moment, one does.
		holder := cmp.Or(h.holder, "recover/"+store.NewHolder())
		if err := h.Store.ReleaseLease(ctx, lease.Name, lease.Holder); err != nil && !errors.Is(err, store.ErrLeaseLost) {
			return err
		}
		if _, err := h.Store.AcquireLease(ctx, lease.Name, holder, h.leaseTTL(), now); err != nil {
			if errors.Is(err, store.ErrLeaseHeld) {
				return nil
			}
			return err
		}
		lease = &store.Lease{Name: lease.Name, Holder: holder}
	}
	why := "velocity stopped while the run was in progress (killed or crashed)"
	if noted {
		why = note.Owner + " stopped while the run was in progress (killed or crashed)"
		// Marked before the run is interrupted: a command dying in
		// between leaves the run live, and the next one marks it again.
		if note.Owner == serveOwner {
			if err := h.markResume(r.ID, note.Request); err != nil {
				return err
			}
		}
	}
	if err := h.Store.Interrupt(ctx, r.ID, why, now); err != nil {
		return err
	}
	if lease != nil {
		// Naming the holder releases only its lease: one taken over
		// meanwhile stays.
		if err := h.Store.ReleaseLease(ctx, lease.Name, lease.Holder); err != nil && !errors.Is(err, store.ErrLeaseLost) {
			return err
		}
	}
	// The reaper already killed the processes. The workspace stays:
	// its slot's lock died with the run, and the project's next run
	// there brings it back to its snapshot.
	token := strings.TrimSuffix(filepath.Base(r.Lock), ".lock")
	os.RemoveAll(h.scratch(token))
	os.Remove(r.Lock)
	return nil
}

// interruptElsewhere interrupts run r whose owner, on another node, let
// its lease expire, and with svc resumes it here when it is a project's
// run. Without svc a project's run is left for a velocity serve to take
// over. The run is claimed first, through its lease, so that only one of
// the processes looking at once settles it.
func (h *Home) interruptElsewhere(ctx context.Context, r store.Run, lease *store.Lease, now time.Time, svc *runs.Service) (*Resumed, error) {
	resumable := h.projectRun(ctx, r)
	if resumable && svc == nil {
		return nil, nil
	}
	holder := cmp.Or(h.holder, "recover/"+store.NewHolder())
	if _, err := h.Store.AcquireLease(ctx, store.RunLease(r.ID), holder, h.leaseTTL(), now); err != nil {
		if errors.Is(err, store.ErrLeaseHeld) {
			return nil, nil
		}
		return nil, err
	}
	defer h.Store.ReleaseLease(context.WithoutCancel(ctx), store.RunLease(r.ID), holder)
	// The list r came from may be old: another process may have settled
	// the run (and released its lease) since, or its owner finished it
	// after a pause. Only a run still live is interrupted and resumed,
	// so that a run is taken over once.
	current, err := h.Store.Run(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	if current.Status != store.Pending && current.Status != store.Running {
		return nil, nil
	}
	why := "velocity stopped while the run was in progress (killed or crashed)"
	if lease != nil {
		why = fmt.Sprintf("the node executing the run (%s) stopped renewing its lease: killed, crashed or cut off", lease.Holder)
	}
	if err := h.Store.Interrupt(ctx, r.ID, why, now); err != nil {
		return nil, err
	}
	if !resumable {
		return nil, nil
	}
	res := h.resumeHere(ctx, r, svc, why)
	return &res, nil
}

// projectRun reports whether r is a run velocity serve started for one
// of the store's projects (its trigger says who or what started it), so
// that any node holding the project's mirror can run it again.
func (h *Home) projectRun(ctx context.Context, r store.Run) bool {
	if r.Trigger == "" || r.Commit == "" {
		return false
	}
	_, err := h.Store.Project(ctx, r.Project)
	return err == nil
}

// resumeHere starts run r again on svc from this node's mirror of its
// project, reusing what finished (see ResumeRuns).
func (h *Home) resumeHere(ctx context.Context, r store.Run, svc *runs.Service, why string) Resumed {
	m := h.mirrors()
	if got, err := m.Resolve(ctx, r.Project, r.Commit); err != nil || got != r.Commit {
		// Mirrors kept per node may lag behind the one that ran.
		if err := m.Fetch(ctx, r.Project); err != nil {
			return Resumed{From: r.ID, Err: fmt.Errorf("run %d: commit %.12s is not in this node's mirror of %s: %w", r.ID, r.Commit, r.Project, err)}
		}
	}
	req := runs.StartRequest{
		Rerun: r.ID, Failed: true, RerunDir: m.Path(r.Project),
		Project: r.Project, Branch: r.Branch, Trigger: r.Trigger,
		Jobs: runtime.NumCPU(), NoServe: true,
		Note: fmt.Sprintf("taking over run %d (%s): its finished actions are reused, the others run again", r.ID, why),
	}
	as, err := svc.Start(ctx, req)
	return Resumed{From: r.ID, As: as, Err: err}
}

// lockedHere reports whether run r's lock file is one of this data
// directory's: its owner ran on this node. Another data directory, even
// on the same machine, is another node.
func (h *Home) lockedHere(r store.Run) bool {
	if filepath.Dir(r.Lock) != filepath.Dir(h.lockPath("x")) {
		return false
	}
	_, err := os.Stat(r.Lock)
	return err == nil
}

// owned reports whether live run r still has an owner, by the rule of
// recover, with the run's lease if it has one. A lock that cannot be
// checked counts as held: leaving a run live for the next command to
// settle beats interrupting a living one.
func (h *Home) owned(ctx context.Context, r store.Run, now time.Time) (bool, *store.Lease, error) {
	held, err := lockfile.Held(r.Lock)
	if err != nil || held {
		return true, nil, nil
	}
	here := h.lockedHere(r)
	l, err := h.Store.Lease(ctx, store.RunLease(r.ID))
	if errors.Is(err, store.ErrNotFound) {
		// A run recorded on another node gets its lease right after its
		// record: give it the time a lease would.
		return !here && now.Sub(r.Created) < h.leaseTTL(), nil, nil
	}
	if err != nil {
		return false, nil, err
	}
	if here {
		return false, &l, nil
	}
	return !l.Expired(now), &l, nil
}

// serveOwner is what velocity serve writes as the owner in its runs' lock
// notes; its runs, alone, are resumed when it starts again.
const serveOwner = "velocity serve"

// resumeDir holds one file per run to resume, RUNID.json, with the run's
// request: written by whichever command finds velocity serve's run dead,
// taken by the next velocity serve.
func (h *Home) resumeDir() string { return filepath.Join(h.Dir, "resume") }

func (h *Home) markResume(id int64, req runs.StartRequest) error {
	b, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("run %d to resume: %w", id, err)
	}
	if err := os.MkdirAll(h.resumeDir(), 0o700); err != nil {
		return fmt.Errorf("run %d to resume: %w", id, err)
	}
	path := filepath.Join(h.resumeDir(), strconv.FormatInt(id, 10)+".json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("run %d to resume: %w", id, err)
	}
	return nil
}

// Resumed is a run that ResumeRuns started again: From is the interrupted
// run, As the run resuming it, or Err why it could not be.
type Resumed struct {
	From, As int64
	Err      error
}

// ResumeRuns starts again, on svc, the runs that velocity serve was
// executing when it died, each as a new run that reuses what the
// interrupted one finished (its succeeded actions, from the journal) and
// executes the rest. Each is taken once: its mark is removed before its
// run starts, so a server dying in between leaves the run interrupted
// rather than resuming it twice.
func (h *Home) ResumeRuns(ctx context.Context, svc *runs.Service) []Resumed {
	paths, _ := filepath.Glob(filepath.Join(h.resumeDir(), "*.json"))
	var ids []int64
	for _, p := range paths {
		if id, err := strconv.ParseInt(strings.TrimSuffix(filepath.Base(p), ".json"), 10, 64); err == nil && id > 0 {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	var out []Resumed
	for _, id := range ids {
		path := filepath.Join(h.resumeDir(), strconv.FormatInt(id, 10)+".json")
		b, err := os.ReadFile(path)
		if err == nil {
			err = os.Remove(path)
		}
		var req runs.StartRequest
		if err == nil {
			err = json.Unmarshal(b, &req)
		}
		if err != nil {
			out = append(out, Resumed{From: id, Err: fmt.Errorf("run %d to resume: %w", id, err)})
			continue
		}
		req.Rerun, req.Failed, req.Definition = id, true, nil
		req.Note = fmt.Sprintf("resuming run %d, interrupted when velocity serve stopped: its finished actions are reused, the others run again", id)
		req.Jobs = max(req.Jobs, 1)
		as, err := svc.Start(ctx, req)
		out = append(out, Resumed{From: id, As: as, Err: err})
	}
	return out
}
