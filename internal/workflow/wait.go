package workflow

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/velocity-ci/velocity/internal/workflow/asl"
	"github.com/velocity-ci/velocity/internal/workflow/jsonpath"
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
	if st.jsonata {
		if n, ok, err := s.jnumber(v, "Seconds", ctxObj, in, 0, maxSeconds, true); err != nil {
			return nil, err
		} else if ok {
			until = v.entered.Timestamp.Add(time.Duration(n) * time.Second)
		}
		if str, ok, err := s.jstring(v, "Timestamp", ctxObj, in); err != nil {
			return nil, err
		} else if ok {
			t, good := parseTimestamp(str)
			if !good {
				return nil, s.queryFailure(v, "Timestamp", fmt.Sprintf("The JSONata expression specified for the field 'Timestamp' must give an ISO-8601 extended offset date-time string, got %q.", str))
			}
			until = t
		}
	}
	switch {
	case !until.IsZero():
	case st.def.Seconds != nil:
		until = v.entered.Timestamp.Add(time.Duration(*st.def.Seconds) * time.Second)
	case st.def.Timestamp != "":
		t, ok := parseTimestamp(st.def.Timestamp)
		if !ok {
			return nil, asl.Failf(asl.ErrRuntime, "The Timestamp %q of state '%s' is not an RFC 3339 timestamp", st.def.Timestamp, st.name)
		}
		until = t
	case st.waitSecondsPath != nil:
		// The causes are Step Functions' words (as LocalStack records
		// them, and emulators copying AWS's messages show them): the
		// path, then the value it found, after the usual prefix naming
		// the state.
		p := st.waitSecondsPath
		val, err := p.Get(in, ctxObj)
		if err != nil {
			if jsonpath.IsUndefinedVariable(err) {
				return nil, s.pathFailure(v, "SecondsPath", p, in, err)
			}
			return nil, s.waitFailure(v, "The SecondsPath parameter does not reference an input value: %s", p)
		}
		n, isInt := longValue(val)
		switch {
		case !isInt:
			return nil, s.waitFailure(v, "The SecondsPath parameter cannot be parsed as a long value: %s == %s", p, causeValue(val))
		case n < 0:
			return nil, s.waitFailure(v, "The SecondsPath parameter references a negative value: %s == %s", p, causeValue(val))
		case n > maxSeconds:
			// AWS's behaviour above its documented maximum is not
			// recorded; refusing keeps the value from overflowing a
			// time.Duration (which would end the Wait at once).
			return nil, asl.Failf(asl.ErrRuntime,
				"An error occurred while executing the state '%s' (entered at the event id #%d). The SecondsPath parameter does not reference a valid integer value: %s (Step Functions accepts 0 to %d)",
				st.name, s.enteredID(v), jsonString(val), maxSeconds)
		}
		until = v.entered.Timestamp.Add(time.Duration(n) * time.Second)
	case st.waitTimestampPath != nil:
		p := st.waitTimestampPath
		val, err := p.Get(in, ctxObj)
		if err != nil {
			if jsonpath.IsUndefinedVariable(err) {
				return nil, s.pathFailure(v, "TimestampPath", p, in, err)
			}
			return nil, s.waitFailure(v, "The TimestampPath parameter does not reference an input value: %s", p)
		}
		str, _ := val.(string)
		t, ok := parseTimestamp(str)
		if !ok {
			return nil, s.waitFailure(v,
				"The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: %s == %s",
				p, causeValue(val))
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
	if st.jsonata {
		return s.jresult(v, in, false, ctxObj)
	}
	// A Wait has no result: its Assign reads the effective input.
	if v.assigned, err = s.evalAssign(v, st.assign, in, ctxObj); err != nil {
		return nil, err
	}
	return s.applyOutputPath(v, in, ctxObj)
}

// longValue reads a JSON number that is an integer, as Step Functions'
// "long value": 1.5, "5" or 1e2 are not.
func longValue(v any) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok || strings.ContainsAny(string(n), ".eE") {
		return 0, false
	}
	i, err := n.Int64()
	return i, err == nil
}

// causeValue writes a value into a cause as Step Functions does after
// "PATH == ": a string as its text, anything else as compact JSON.
func causeValue(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return jsonString(v)
}

// waitFailure is a Wait's States.Runtime failure, prefixed as Step
// Functions prefixes runtime errors of a state.
func (s *scope) waitFailure(v *visit, format string, args ...any) error {
	return asl.Failf(asl.ErrRuntime, "An error occurred while executing the state '%s' (entered at the event id #%d). %s",
		v.st.name, s.enteredID(v), fmt.Sprintf(format, args...))
}
