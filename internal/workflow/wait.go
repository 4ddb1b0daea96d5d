package workflow

import (
	"context"
	"time"

	"github.com/velocity-ci/velocity/internal/workflow/asl"
)

// wait sleeps until the end the state computed when it was entered; a
// resumed Wait keeps that end, recorded with the entry's timestamp.
func (s *scope) wait(ctx context.Context, v *visit) (any, error) {
	st := v.st
	ctxObj := s.context(v, 0, "")
	in, err := s.effectiveInput(v, ctxObj)
	if err != nil {
		return nil, err
	}
	var until time.Time
	switch {
	case st.def.Seconds != nil:
		until = v.entered.Timestamp.Add(time.Duration(*st.def.Seconds) * time.Second)
	case st.def.Timestamp != "":
		t, ok := parseTimestamp(st.def.Timestamp)
		if !ok {
			return nil, asl.Failf(asl.ErrRuntime, "The Timestamp %q of state '%s' is not an RFC 3339 timestamp", st.def.Timestamp, st.name)
		}
		until = t
	case st.waitSecondsPath != nil:
		val, err := s.getPath(v, st.waitSecondsPath, in, ctxObj)
		if err != nil {
			return nil, err
		}
		n, ok := seconds(val, 0)
		if !ok {
			return nil, asl.Failf(asl.ErrRuntime,
				"An error occurred while executing the state '%s' (entered at the event id #%d). The SecondsPath parameter does not reference a valid integer value: %s (Step Functions accepts 0 to %d)",
				st.name, s.enteredID(v), jsonString(val), maxSeconds)
		}
		until = v.entered.Timestamp.Add(time.Duration(n) * time.Second)
	case st.waitTimestampPath != nil:
		val, err := s.getPath(v, st.waitTimestampPath, in, ctxObj)
		if err != nil {
			return nil, err
		}
		str, _ := val.(string)
		t, ok := parseTimestamp(str)
		if !ok {
			return nil, asl.Failf(asl.ErrRuntime,
				"An error occurred while executing the state '%s' (entered at the event id #%d). The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: %s",
				st.name, s.enteredID(v), jsonString(val))
		}
		until = t
	}
	if err := s.flush(ctx); err != nil {
		return nil, err
	}
	if d := until.Sub(s.run.clock.Now()); d > 0 {
		if err := s.run.clock.Sleep(ctx, d); err != nil {
			return nil, &stopError{err: err}
		}
	}
	// A Wait has no result: its Assign reads the effective input.
	if v.assigned, err = s.evalAssign(v, st.assign, in, ctxObj); err != nil {
		return nil, err
	}
	return s.applyOutputPath(v, in, ctxObj)
}
