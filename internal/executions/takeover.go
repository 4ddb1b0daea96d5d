package executions

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/velocity-ci/velocity/internal/lockfile"
	"github.com/velocity-ci/velocity/internal/store"
)

// TakeOverExpired runs here the executions that another node was running
// when it died: live executions that no process of this service runs,
// whose lease in the store no live holder keeps (it expired, or its
// holder let it go) and whose lock file, if this machine has it, nobody
// holds. Each is claimed with a lock file of this node and then its
// lease, which of several nodes looking at once exactly one gets; the
// winner reads the execution again (it may have ended meanwhile) and runs
// it in the background, from its history: the states that finished are
// not run again. resuming, when set, hears of each as it is taken over.
// It returns how many it took over; velocity serve calls it now and
// then. Without leases in the store it does nothing, and the executions
// of this data directory are left to ResumeOrphans, which sees a dead
// owner by its lock at once.
func (s *Service) TakeOverExpired(ctx context.Context, resuming func(store.Execution)) (int, error) {
	if s.leases == nil {
		return 0, nil
	}
	live, err := s.st.LiveExecutions(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range live {
		ok, err := s.abandoned(ctx, e, time.Now())
		if err != nil {
			return n, err
		}
		if !ok {
			continue
		}
		c, now, ok := s.claimAbandoned(ctx, e)
		if !ok {
			continue
		}
		n++
		if resuming != nil {
			resuming(now)
		}
		s.runInBackground(now, c, Progress{})
	}
	return n, nil
}

// abandoned reports whether live execution e is one of another node's
// that nobody runs any more, by the rule of TakeOverExpired.
func (s *Service) abandoned(ctx context.Context, e store.Execution, now time.Time) (bool, error) {
	if s.isActive(e.ID) || e.Lock == "" {
		return false, nil
	}
	if held, err := lockfile.Held(e.Lock); err != nil || held {
		// A lock that cannot be checked counts as held: leaving an
		// execution to its owner beats running it twice.
		return false, nil
	}
	l, err := s.leases.Lease(ctx, store.ExecutionLease(e.ID))
	switch {
	case errors.Is(err, store.ErrNotFound):
		// Recorded (or redriven) moments ago: its owner leases it right
		// after the record. Otherwise its owner let it go.
		if now.Sub(e.Created) < s.leaseTTL || now.Sub(e.Redriven) < s.leaseTTL {
			return false, nil
		}
	case err != nil:
		return false, fmt.Errorf("execution %d: %w", e.ID, err)
	case !l.Expired(now):
		return false, nil
	}
	if s.localLock(e.Lock) {
		// This data directory's: its owner ran here, and ResumeOrphans
		// takes it over, unless a node on another machine, with a data
		// directory at the same path, leased it last.
		return err == nil && !strings.HasPrefix(l.Holder, s.host+"/"), nil
	}
	return true, nil
}

// claimAbandoned takes execution e for this process: a lock file of this
// node, then the lease. It returns the claim and the execution as it is
// recorded under it, or false when another process took it first or it
// ended.
func (s *Service) claimAbandoned(ctx context.Context, e store.Execution) (*claim, store.Execution, bool) {
	var c *claim
	if s.localLock(e.Lock) {
		// The same path on another machine: holding it here keeps this
		// machine's ResumeOrphans from taking the execution too.
		l, err := lockfile.Acquire(e.Lock)
		if err != nil {
			return nil, e, false
		}
		c = &claim{lock: l}
		c.note(s.holder)
	} else {
		var err error
		if c, _, err = s.lockFor(); err != nil {
			s.log.Warn("taking over a workflow execution: its lock", "execution", e.ARN, "err", err)
			return nil, e, false
		}
	}
	if err := s.lease(ctx, c, e.ID); err != nil {
		if !errors.Is(err, store.ErrLeaseHeld) {
			s.log.Warn("taking over a workflow execution: its lease", "execution", e.ARN, "err", err)
		}
		c.Release()
		return nil, e, false
	}
	now, err := s.st.Execution(ctx, e.ID)
	if err != nil || now.Status.Final() {
		c.Release()
		return nil, e, false
	}
	return c, now, true
}
