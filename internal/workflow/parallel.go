package workflow

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/velocity-ci/velocity/internal/workflow/asl"
)

// parallel runs a Parallel state: every branch at once on the same input;
// the output is the array of branch outputs. The first branch to fail
// stops the others and fails the state with its error.
func (s *scope) parallel(ctx context.Context, v *visit) (any, string, error) {
	r := newRetries(v.st)
	for attempt := 0; ; attempt++ {
		out, f, inside, err := s.parallelAttempt(ctx, v, attempt)
		if err != nil {
			return nil, "", err
		}
		if f == nil {
			return out, v.st.def.Next, nil
		}
		retry, err := s.retryAfter(ctx, v, r, f, inside, ParallelStateFailed, ParallelStateStarted)
		if err != nil {
			return nil, "", err
		}
		if !retry {
			return s.catchOrFail(v, f)
		}
	}
}

func (s *scope) parallelAttempt(ctx context.Context, v *visit, attempt int) (out any, f *asl.Failure, inside bool, err error) {
	st := v.st
	ctxObj := s.context(v, attempt, "")
	in, err := s.effectiveInput(v, ctxObj)
	if err != nil {
		return nil, failureOf(err), false, stopOnly(err)
	}
	input, err := s.parametersOf(v, st.parameters, in, ctxObj)
	if err != nil {
		return nil, failureOf(err), false, stopOnly(err)
	}
	s.step(ParallelStateStarted, nil, nil)
	if err := s.flush(ctx); err != nil {
		return nil, nil, false, err
	}

	bctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	results := make([]any, len(st.branches))
	var mu sync.Mutex
	var first *asl.Failure
	var firstSource, last int64
	var firstAt time.Time
	var stop error
	var wg sync.WaitGroup
	// A failing branch stops the others only once each has reached its
	// first action: all branches start together, as in Step Functions,
	// whichever goroutine happens to run first.
	var started sync.WaitGroup
	started.Add(len(st.branches))
	for i, m := range st.branches {
		child := s.run.newScope(childName(s.name, st.name, v.number, attempt, i), s.lastID)
		child.parent = s
		child.started = sync.OnceFunc(started.Done)
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := child.runMachine(bctx, m, input)
			child.startedNow()
			if err == nil || !isStop(err) || aborting(bctx) {
				if ferr := child.flush(ctx); ferr != nil {
					err = ferr
				}
			}
			mu.Lock()
			defer mu.Unlock()
			last = max(last, child.lastID)
			var f *asl.Failure
			switch {
			case err == nil:
				results[i] = out
			case isStop(err):
				// A branch stopped by a failing sibling (now, or as its
				// history records) is no reason to stop the execution.
				if ctx.Err() != nil || !(errors.Is(context.Cause(bctx), errSiblingFailed) || errors.Is(err, errSiblingFailed)) {
					if stop == nil {
						stop = err
					}
				}
			case errors.As(err, &f):
				if first == nil {
					first, firstSource, firstAt = f, child.lastID, child.lastTime
					go func() {
						started.Wait()
						cancel(errSiblingFailed)
					}()
				}
			}
		}()
	}
	wg.Wait()
	if stop != nil {
		return nil, nil, false, stop
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, false, &stopError{err: err}
	}
	// The state's next event links to the failed branch's last event,
	// or after a success to the last event of the branches.
	if first != nil {
		s.lastID, v.failedAt = firstSource, firstAt
		return nil, first, true, nil
	}
	s.lastID = max(s.lastID, last)
	s.step(ParallelStateSucceeded, nil, nil)
	if out, err = s.outputOf(v, results, true, ctxObj); err != nil {
		return nil, failureOf(err), false, stopOnly(err)
	}
	return out, nil, false, nil
}

// failureOf returns err as a failure, or nil when it stops the walk.
func failureOf(err error) *asl.Failure {
	if isStop(err) {
		return nil
	}
	var f *asl.Failure
	if errors.As(err, &f) {
		return f
	}
	return asl.Failf(asl.ErrRuntime, "%v", err)
}

// stopOnly returns err when it stops the walk, nil when it is a failure.
func stopOnly(err error) error {
	if isStop(err) {
		return err
	}
	return nil
}
