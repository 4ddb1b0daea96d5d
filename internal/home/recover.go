package home

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
// if it has one, has expired; or, sooner, when its lock file is on this
// machine and not held: its owner ran here, and the kernel released the
// lock when the owner died, however it died, which is surer than waiting
// for the lease to run out. A run whose lock file is not here but whose
// lease is live belongs to a process on another node sharing the store,
// and is left to it. The lease of an interrupted run is released on its
// dead holder's behalf. A run of velocity serve is marked to be resumed by
// the next velocity serve (see ResumeRuns).
func (h *Home) recover(ctx context.Context) error {
	live, err := h.Store.LiveRuns(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	for _, r := range live {
		owned, lease, err := h.owned(ctx, r, now)
		if err != nil {
			return err
		}
		if owned {
			continue
		}
		why := "velocity stopped while the run was in progress (killed or crashed)"
		if note, ok := runs.ReadLockNote(r.Lock); ok {
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
	}
	return nil
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
	l, err := h.Store.Lease(ctx, store.RunLease(r.ID))
	if errors.Is(err, store.ErrNotFound) {
		return false, nil, nil
	}
	if err != nil {
		return false, nil, err
	}
	if _, err := os.Stat(r.Lock); err == nil {
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
