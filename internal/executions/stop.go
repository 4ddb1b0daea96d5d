package executions

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/velocity-ci/velocity/internal/store"
)

// stopWait is how long Stop waits for the execution to end.
const stopWait = 30 * time.Second

// Stop stops (aborts) a live execution with errName and cause, like
// StopExecution, and the executions below it, as Step Functions stops
// the child of a .sync task whose execution stops. The process running
// it acts on the request; when none does (it died), the abort is
// journaled here. It returns the execution once it ended; one that is
// not live is ErrInvalid.
func (s *Service) Stop(ctx context.Context, e store.Execution, errName, cause string) (store.Execution, error) {
	if _, err := s.st.RequestStop(ctx, e.ID, errName, cause); errors.Is(err, store.ErrNotFound) {
		return e, invalidf("execution %d is %s already", e.ID, e.Status)
	} else if err != nil {
		return e, err
	}
	// With no owner alive, resume it here: the interpreter sees the
	// stop request at once and journals the abort.
	if lock, ok := s.adopt(ctx, e); ok {
		e, _ = s.st.Execution(ctx, e.ID)
		if _, err := s.execute(ctx, e, lock, Progress{}); err != nil {
			return e, err
		}
	}
	deadline := time.Now().Add(stopWait)
	for {
		now, err := s.st.Execution(ctx, e.ID)
		if err != nil {
			return e, err
		}
		if now.Status.Final() {
			return now, nil
		}
		if time.Now().After(deadline) {
			return now, fmt.Errorf("execution %d was asked to stop but is still %s after 30s", e.ID, now.Status)
		}
		select {
		case <-ctx.Done():
			return now, ctx.Err()
		case <-time.After(s.poll):
		}
	}
}

// Redrive makes a FAILED, TIMED_OUT or ABORTED execution run again from
// where it failed, like RedriveExecution: states that succeeded do not
// run again. Other statuses are ErrInvalid.
func (s *Service) Redrive(ctx context.Context, e store.Execution) (*Run, error) {
	lock, path, err := s.lockFor()
	if err != nil {
		return nil, err
	}
	if err := s.st.Redrive(ctx, e.ID, path, time.Now()); errors.Is(err, store.ErrNotFound) {
		lock.Release()
		return nil, invalidf("execution %d is %s: only FAILED, TIMED_OUT or ABORTED executions can be redriven", e.ID, e.Status)
	} else if err != nil {
		lock.Release()
		return nil, err
	}
	if err := s.takeOver(ctx, lock, e.ID, ""); err != nil {
		lock.Release()
		return nil, err
	}
	if e, err = s.st.Execution(ctx, e.ID); err != nil {
		lock.Release()
		return nil, err
	}
	return &Run{Execution: e, s: s, lock: lock}, nil
}
