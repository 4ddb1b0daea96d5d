package executions

import (
	"context"
	"errors"
	"fmt"
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
	return &claim{lock: l}, path, nil
}

// lease takes the store's lease of execution id for c; without leases in
// the store it does nothing. A lease another live holder keeps is an
// error: that holder runs the execution.
func (s *Service) lease(ctx context.Context, c *claim, id int64) error {
	if s.leases == nil {
		return nil
	}
	k, err := store.KeepLease(context.WithoutCancel(ctx), s.leases, store.ExecutionLease(id), s.holder, store.KeepOptions{})
	if err != nil {
		return fmt.Errorf("execution %d: %w", id, err)
	}
	c.lease = k
	return nil
}

// takeOver is lease for an execution whose process is gone: this process
// holds its lock file, so a holder of its lease on this machine is dead
// and its lease is released in its name rather than waited out. A holder
// on another machine keeps it until the lease expires.
func (s *Service) takeOver(ctx context.Context, c *claim, id int64) error {
	err := s.lease(ctx, c, id)
	if !errors.Is(err, store.ErrLeaseHeld) {
		return err
	}
	l, lerr := s.leases.Lease(ctx, store.ExecutionLease(id))
	if lerr != nil || !strings.HasPrefix(l.Holder, s.host+"/") {
		return err
	}
	if rerr := s.leases.ReleaseLease(ctx, l.Name, l.Holder); rerr != nil {
		return err
	}
	return s.lease(ctx, c, id)
}
