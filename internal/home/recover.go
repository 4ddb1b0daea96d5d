package home

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/velocity-ci/velocity/internal/lockfile"
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
// dead holder's behalf.
func (h *Home) recover(ctx context.Context) error {
	runs, err := h.Store.LiveRuns(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	for _, r := range runs {
		owned, lease, err := h.owned(ctx, r, now)
		if err != nil {
			return err
		}
		if owned {
			continue
		}
		if err := h.Store.Interrupt(ctx, r.ID, interruptedWhy(r.Lock), now); err != nil {
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

// interruptedWhy is the reason of a run whose owner died: it names the
// owner when the owner wrote its name into the run's lock file (velocity
// serve does; see runs.Config.Owner).
func interruptedWhy(lock string) string {
	owner := "velocity"
	if b, err := os.ReadFile(lock); err == nil {
		// Only a name written by a velocity command is taken: the file is
		// in the private data directory, but a reason is shown verbatim.
		if s := strings.TrimSpace(string(b)); strings.HasPrefix(s, "velocity ") && len(s) <= 64 && !strings.ContainsAny(s, "\r\n") {
			owner = s
		}
	}
	return owner + " stopped while the run was in progress (killed or crashed)"
}
