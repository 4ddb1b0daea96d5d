package workflow

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/velocity-ci/velocity/internal/workflow/asl"
)

// retries counts the attempts each Retrier of a state has granted.
type retries struct {
	st     *state
	counts []int
}

func newRetries(st *state) *retries {
	return &retries{st: st, counts: make([]int, len(st.def.Retry))}
}

// reportedName is the error name Step Functions reports for name: a
// missed heartbeat is States.HeartbeatTimeout to Retry and Catch, but is
// recorded and reported as States.Timeout.
func reportedName(name string) string {
	if name == asl.ErrHeartbeatTimeout {
		return asl.ErrTimeout
	}
	return name
}

// errorMatches applies ErrorEquals to an error name. States.Runtime is
// terminal: nothing matches it. (The documentation says the same of
// States.DataLimitExceeded, but Step Functions' histories show a Catch on
// States.ALL taking a task result that is too large.) States.ALL
// matches every other name; States.TaskFailed, in a Retrier or Catcher,
// matches every other name except the timeouts. A missed heartbeat
// (States.HeartbeatTimeout) also matches States.Timeout.
func errorMatches(list []string, name string) bool {
	if name == asl.ErrRuntime {
		return false
	}
	for _, e := range list {
		switch {
		case e == name, e == asl.ErrAll:
			return true
		case e == asl.ErrTimeout && name == asl.ErrHeartbeatTimeout:
			// A missed heartbeat is a timeout too.
			return true
		case e == asl.ErrTaskFailed && name != asl.ErrTimeout && name != asl.ErrHeartbeatTimeout:
			return true
		}
	}
	return false
}

// decide returns whether f is retried and after how long, counting the
// attempt against the first Retrier whose ErrorEquals matches.
func (r *retries) decide(f *asl.Failure, rnd Rand) (time.Duration, bool) {
	for i, rt := range r.st.def.Retry {
		if !errorMatches(rt.ErrorEquals, f.Name) {
			continue
		}
		max := int64(3)
		if rt.MaxAttempts != nil {
			max = *rt.MaxAttempts
		}
		if int64(r.counts[i]) >= max {
			return 0, false
		}
		interval := 1.0
		if rt.IntervalSeconds != nil {
			interval = float64(*rt.IntervalSeconds)
		}
		rate := 2.0
		if rt.BackoffRate != nil {
			rate = *rt.BackoffRate
		}
		delay := interval * math.Pow(rate, float64(r.counts[i]))
		if rt.MaxDelaySeconds != nil && delay > float64(*rt.MaxDelaySeconds) {
			delay = float64(*rt.MaxDelaySeconds)
		}
		// BackoffRate has no upper bound: without MaxDelaySeconds the delay
		// can pass what a time.Duration holds, and an overflowed delay
		// retries at once. maxSeconds (over three years) outlasts any
		// Standard execution on AWS (one year), so it means "never" as
		// the uncapped delay does.
		delay = min(delay, maxSeconds)
		if rt.JitterStrategy == "FULL" {
			delay *= rnd.Float64()
		}
		r.counts[i]++
		return time.Duration(delay * float64(time.Second)).Round(time.Millisecond), true
	}
	return 0, false
}

// count replays a recorded retry decision into the counts.
func (r *retries) count(f *asl.Failure) {
	for i, rt := range r.st.def.Retry {
		if errorMatches(rt.ErrorEquals, f.Name) {
			r.counts[i]++
			return
		}
	}
}

// onFailure decides on the retry of a failed attempt and records the
// failure event (of failType, with details) together with the decision.
// A failure consumed from the history keeps its recorded decision.
// It returns the time the next attempt starts at when retried.
func (s *scope) onFailure(ctx context.Context, v *visit, r *retries, f *asl.Failure, recorded *Event, failType EventType, details func() any) (time.Time, bool, error) {
	if recorded != nil {
		var res failureResume
		if len(recorded.Resume) > 0 {
			_ = json.Unmarshal(recorded.Resume, &res)
		}
		if res.Retry {
			r.count(f)
		}
		return recorded.Timestamp.Add(time.Duration(res.DelayMs) * time.Millisecond), res.Retry, nil
	}
	delay, retry := r.decide(f, s.run.rand)
	var resume any
	if retry || f.Name == asl.ErrHeartbeatTimeout {
		resume = failureResume{Retry: retry, DelayMs: delay.Milliseconds(), Heartbeat: f.Name == asl.ErrHeartbeatTimeout}
	}
	now := s.run.clock.Now()
	if failType != "" {
		e := s.emit(failType, details(), resume)
		now = e.Timestamp
	}
	return now.Add(delay), retry, nil
}

// retryAfter decides on the failure f of a Map's or Parallel's attempt
// and, when it is retried, waits for the next attempt. A failure of the
// state's own input or output processing records no event. A failure of
// its iterations or branches (inside) records failType, but only once no
// retry is left: Step Functions follows a retried attempt with the next
// attempt's started event (MapStateStarted, ParallelStateStarted), with
// no …StateFailed between. So a resumed walk knows a retry by the next
// attempt having started; when the process stopped during the delay the
// decision is taken again, the delay counted from the failure's recorded
// time (a JitterStrategy FULL delay is drawn anew).
func (s *scope) retryAfter(ctx context.Context, v *visit, r *retries, f *asl.Failure, inside bool, failType, started EventType) (bool, error) {
	if !inside {
		until, retry, err := s.onFailure(ctx, v, r, f, nil, "", nil)
		if err != nil || !retry {
			return false, err
		}
		return true, s.sleepUntil(ctx, until)
	}
	if rec, ok := s.replay(failType); ok {
		// Histories written before retries were recorded this way carry
		// the decision in the failure event.
		until, retry, err := s.onFailure(ctx, v, r, f, &rec, failType, nil)
		if err != nil || !retry {
			return false, err
		}
		return true, s.sleepUntil(ctx, until)
	}
	if e, ok := s.peek(); ok && e.Type == started {
		r.count(f)
		return true, nil
	}
	delay, retry := r.decide(f, s.run.rand)
	if !retry {
		s.emit(failType, nil, nil)
		return false, nil
	}
	at := v.failedAt
	if at.IsZero() {
		at = s.run.clock.Now()
	}
	return true, s.sleepUntil(ctx, at.Add(delay))
}

// sleepUntil flushes, then waits until t.
func (s *scope) sleepUntil(ctx context.Context, t time.Time) error {
	if err := s.flush(ctx); err != nil {
		return err
	}
	if d := t.Sub(s.run.clock.Now()); d > 0 {
		if err := s.run.clock.Sleep(ctx, d); err != nil {
			return &stopError{err: err}
		}
	}
	return nil
}

// catchOrFail applies the state's Catch to a failure that is not retried:
// the first Catcher that matches gives the output ({"Error","Cause"} at
// its ResultPath in the state's input) and the next state.
func (s *scope) catchOrFail(v *visit, f *asl.Failure) (any, string, error) {
	for i, c := range v.st.catch {
		if !errorMatches(c.errorEquals, f.Name) {
			continue
		}
		s.testCaught(i, f)
		errOut := errorOutput(f)
		if v.st.jsonata {
			ctxObj := s.context(v, 0, "")
			js := jstates{input: v.input, errorOutput: errOut, hasError: true}
			var err error
			if v.assigned, err = s.jassign(v, fmt.Sprintf("Catch[%d]/Assign", i), c.jassign, ctxObj, js); err != nil {
				return nil, "", err
			}
			out := any(errOut)
			if c.joutput != nil {
				if out, err = s.jeval(v, fmt.Sprintf("Catch[%d]/Output", i), c.joutput, ctxObj, js); err != nil {
					return nil, "", err
				}
			}
			return out, c.next, nil
		}
		// The Catcher's Assign reads the error output and replaces the
		// state's own, which did not run to its end.
		var err error
		if v.assigned, err = s.evalAssign(v, c.assign, errOut, s.context(v, 0, "")); err != nil {
			return nil, "", err
		}
		out, err := s.applyResultPath(v, c.resultPath, c.resultNull, errOut)
		if err != nil {
			return nil, "", err
		}
		return out, c.next, nil
	}
	return nil, "", f
}
