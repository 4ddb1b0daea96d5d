package executions

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/velocity-ci/velocity/internal/lockfile"
	"github.com/velocity-ci/velocity/internal/store"
)

// claim is this process's ownership of an execution it runs. The lock
// file dies with the process, so a killed velocity is noticed at once on
// this machine; the lease in the store (when the store has leases) is what
// another node sees, and it expires when its holder stops renewing it.
type claim struct {
	lock  *lockfile.Lock
	lease *store.KeptLease
}

// Release gives the execution up: another process may adopt it at once.
func (c *claim) Release() {
	if c == nil {
		return
	}
	if c.lease != nil {
		c.lease.Release(context.Background())
		c.lease = nil
	}
	c.lock.Release()
}

// lockFor creates and takes a new execution lock; the lease follows with
// lease once the execution has an ID.
func (s *Service) lockFor() (*claim, string, error) {
	path := s.lockPath("wf-" + newToken())
	l, err := lockfile.Acquire(path)
	if err != nil {
		return nil, "", err
	}
	c := &claim{lock: l}
	c.note(s.holder)
	return c, path, nil
}

// note writes into the lock file the holder that leases the execution
// under it: once the lock is free, whoever takes it knows which lease
// holder died with it (see takeOver). A note that could not be written
// only costs a wait for the lease to expire.
func (c *claim) note(holder string) { c.lock.Note(holder) }

// lockNote is the holder noted in the lock file at path, "" when none
// is.
func lockNote(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// localLock reports whether path is a lock file of this data directory.
// A lock file elsewhere that does not exist tells nothing of its owner:
// the owner may have run on another machine, where the file is.
func (s *Service) localLock(path string) bool {
	return filepath.Dir(path) == filepath.Dir(s.lockPath("x"))
}

// orphaned reports whether execution e's lock file shows its owner gone:
// nobody holds it, and it exists, or it is one of this data directory's
// (released by an owner that let the execution go). Executions of other
// nodes are taken over through their leases (TakeOverExpired).
func (s *Service) orphaned(e store.Execution) bool {
	if e.Lock == "" {
		return false
	}
	held, err := lockfile.Held(e.Lock)
	if err != nil || held {
		return false
	}
	if s.localLock(e.Lock) {
		return true
	}
	_, err = os.Stat(e.Lock)
	return err == nil
}

// lease takes the store's lease of execution id for c; without leases in
// the store it does nothing. A lease another live holder keeps is an
// error: that holder runs the execution.
func (s *Service) lease(ctx context.Context, c *claim, id int64) error {
	if s.leases == nil {
		return nil
	}
	k, err := store.KeepLease(context.WithoutCancel(ctx), s.leases, store.ExecutionLease(id), s.holder, store.KeepOptions{TTL: s.leaseTTL})
	if err != nil {
		return fmt.Errorf("execution %d: %w", id, err)
	}
	c.lease = k
	return nil
}

// takeOver is lease for an execution whose process is gone: this process
// holds its lock file, whose note (dead) names the holder that leased
// the execution under it, so that holder is dead and its lease is
// released in its name rather than waited out. A lock without a note
// (written by an older velocity, or created afresh here) counts any
// holder on this machine as dead. A holder on another machine, or one on
// this machine that leases the execution under another lock file (a
// node that took it over), keeps it until the lease expires.
func (s *Service) takeOver(ctx context.Context, c *claim, id int64, dead string) error {
	err := s.lease(ctx, c, id)
	if !errors.Is(err, store.ErrLeaseHeld) {
		return err
	}
	l, lerr := s.leases.Lease(ctx, store.ExecutionLease(id))
	if lerr != nil || !strings.HasPrefix(l.Holder, s.host+"/") || (dead != "" && dead != l.Holder) {
		return err
	}
	if rerr := s.leases.ReleaseLease(ctx, l.Name, l.Holder); rerr != nil {
		return err
	}
	return s.lease(ctx, c, id)
}
