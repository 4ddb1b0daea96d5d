package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/velocity-ci/velocity/internal/lockfile"
	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/store/sqlite"
)

// dataDir resolves where Velocity keeps its state: --data-dir, then
// $VELOCITY_HOME, then the XDG data directory.
func (a *app) resolveDataDir() (string, error) {
	if a.dataDir != "" {
		return filepath.Abs(a.dataDir)
	}
	if d := a.getenv("VELOCITY_HOME"); d != "" {
		return filepath.Abs(d)
	}
	if d := a.getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "velocity"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no data directory: set --data-dir or VELOCITY_HOME (%w)", err)
	}
	return filepath.Join(home, ".local", "share", "velocity"), nil
}

// home is an opened data directory.
type home struct {
	dir   string
	store journal
}

// journal is what the commands keep in the data directory's store. Only
// openHome names an implementation; everything else holds these
// interfaces, so another store can take SQLite's place.
type journal interface {
	store.Store // with Close
	store.Deployments
	store.Workflows
	store.Leases
}

func (h *home) close() { h.store.Close() }

func (h *home) lockPath(token string) string { return filepath.Join(h.dir, "locks", token+".lock") }

// workspacesDir holds the projects' workspaces (see source.Workspaces).
func (h *home) workspacesDir() string { return filepath.Join(h.dir, "workspaces") }

func (h *home) logDir(id int64) string { return filepath.Join(h.dir, "logs", fmt.Sprint(id)) }

func (h *home) scratch(token string) string { return filepath.Join(h.dir, "tmp", token) }

func (h *home) blobDir() string { return filepath.Join(h.dir, "blobs") }

// openHome opens the data directory and settles runs whose owner died
// (see recover), so that any command notices a killed `velocity run` and
// records it as interrupted.
func (a *app) openHome(ctx context.Context) (*home, error) {
	dir, err := a.resolveDataDir()
	if err != nil {
		return nil, err
	}
	if err := a.makePrivate(dir); err != nil {
		return nil, err
	}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "velocity.db"))
	if err != nil {
		return nil, err
	}
	h := &home{dir: dir, store: st}
	if err := h.recover(ctx); err != nil {
		st.Close()
		return nil, err
	}
	return h, nil
}

// makePrivate creates the data directory with mode 0700, or takes group
// and other permissions away from an existing one (made 0755 by an older
// velocity, or by hand): the journal, logs, workspaces and releases in it
// are the owner's alone. Everything inside is created 0700 or 0600 too;
// this is what keeps older files and files with the project's own modes
// (workspace copies) private.
func (a *app) makePrivate(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data directory %s: %w", dir, err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("data directory %s: %w", dir, err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		if err := os.Chmod(dir, perm&^0o077); err != nil {
			return fmt.Errorf("data directory %s is accessible to other users (%v) and cannot be made private: %w", dir, perm, err)
		}
		a.log.Info("data directory made private", "dir", dir, "was", perm, "now", perm&^0o077)
	}
	return nil
}

// recover records as interrupted the live runs that no process owns any
// more. A live run is interrupted when its lock is not held and its lease,
// if it has one, has expired; or, sooner, when its lock file is on this
// machine and not held: its owner ran here, and the kernel released the
// lock when the owner died, however it died, which is surer than waiting
// for the lease to run out. A run whose lock file is not here but whose
// lease is live belongs to a process on another node sharing the store,
// and is left to it. The lease of an interrupted run is released on its
// dead holder's behalf.
func (h *home) recover(ctx context.Context) error {
	runs, err := h.store.LiveRuns(ctx)
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
		if err := h.store.Interrupt(ctx, r.ID, "velocity stopped while the run was in progress (killed or crashed)", now); err != nil {
			return err
		}
		if lease != nil {
			// Naming the holder releases only its lease: one taken over
			// meanwhile stays.
			if err := h.store.ReleaseLease(ctx, lease.Name, lease.Holder); err != nil && !errors.Is(err, store.ErrLeaseLost) {
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
func (h *home) owned(ctx context.Context, r store.Run, now time.Time) (bool, *store.Lease, error) {
	held, err := lockfile.Held(r.Lock)
	if err != nil || held {
		return true, nil, nil
	}
	l, err := h.store.Lease(ctx, store.RunLease(r.ID))
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

// withHome wraps a command that works on the data directory: it opens it
// (settling runs whose owner died) and closes it afterwards.
func (a *app) withHome(fn func(ctx context.Context, h *home, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		ctx := cmd.Context()
		h, err := a.openHome(ctx)
		if err != nil {
			return err
		}
		defer h.close()
		return fn(ctx, h, args)
	}
}

// runArg resolves a RUN argument: a number, or "last" for the newest run.
func (a *app) runArg(ctx context.Context, h *home, arg string) (store.Run, error) {
	if arg == "" || arg == "last" {
		runs, err := h.store.Runs(ctx, store.RunFilter{Limit: 1})
		if err != nil {
			return store.Run{}, err
		}
		if len(runs) == 0 {
			return store.Run{}, usageError("no runs yet in %s: start one with 'velocity run'", h.dir)
		}
		return runs[0], nil
	}
	var id int64
	if _, err := fmt.Sscan(strings.TrimPrefix(arg, "#"), &id); err != nil || id <= 0 {
		return store.Run{}, usageError("%q is not a run number (see 'velocity runs')", arg)
	}
	r, err := h.store.Run(ctx, id)
	if err != nil {
		return r, usageError("run %d not found in %s (see 'velocity runs')", id, h.dir)
	}
	return r, nil
}
