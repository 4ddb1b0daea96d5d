package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/velocity-ci/velocity/internal/workflow/asl"
	"github.com/velocity-ci/velocity/internal/workflow/jsonpath"
	"github.com/velocity-ci/velocity/internal/workflow/payload"
)

type stateEnteredDetails struct {
	Name         string       `json:"name"`
	Input        string       `json:"input"`
	InputDetails truncDetails `json:"inputDetails"`
}

type stateExitedDetails struct {
	Name          string       `json:"name"`
	Output        string       `json:"output"`
	OutputDetails truncDetails `json:"outputDetails"`
}

// exitResume is what a …StateExited event records beyond AWS's details:
// the state the walk goes to next ("" at the end of its scope).
type exitResume struct {
	Next string `json:"next,omitempty"`
}

// visit is one entry into a state: what the state handlers share.
type visit struct {
	st      *state
	entered Event
	// resumed is set when the entry was recorded before, so the handler
	// consumes the rest of the recorded visit before acting.
	resumed bool
	number  int
	input   any
	// enteredAt is the entry's index in the scope's pending events
	// while it is not yet durable (and numbered), -1 after.
	enteredAt int
}

// runMachine walks m from its StartAt state until a state ends the scope,
// returning the last state's output. A failure of the scope is an
// *asl.Failure; a *stopError means the walk stopped without an outcome.
func (s *scope) runMachine(ctx context.Context, m *machine, input any) (any, error) {
	cur := m.startAt
	for {
		if err := ctx.Err(); err != nil {
			return nil, &stopError{err: err}
		}
		st := m.states[cur]
		out, next, err := s.visitState(ctx, st, input)
		if err != nil {
			return nil, err
		}
		if next == "" {
			return out, nil
		}
		cur, input = next, out
	}
}

func (s *scope) visitState(ctx context.Context, st *state, input any) (any, string, error) {
	if s.visits == nil {
		s.visits = make(map[string]int)
	}
	v := &visit{st: st, number: s.visits[st.name], input: input}
	s.visits[st.name]++

	if e, ok := s.peek(); ok && e.Type == st.entered {
		// A visit recorded to its end is not run again: its recorded
		// output and next state are used.
		if st.exited != "" {
			for i := s.pos + 1; i < len(s.rec); i++ {
				r := s.rec[i]
				if strings.HasSuffix(string(r.Type), "StateEntered") {
					break
				}
				if r.Type != st.exited {
					continue
				}
				out, next, err := recordedExit(r)
				if err != nil {
					return nil, "", &stopError{err: fmt.Errorf("%w: event %d: %v", ErrHistory, r.ID, err)}
				}
				s.pos = i + 1
				s.lastID = r.ID
				return out, next, nil
			}
		}
		v.entered, _ = s.replay(st.entered)
		v.resumed = true
		v.enteredAt = -1
	} else {
		v.entered = s.emit(st.entered, stateEnteredDetails{Name: st.name, Input: jsonString(input)}, nil)
		v.enteredAt = len(s.pending) - 1
		s.visiting = v
	}

	var out any
	var next string
	var err error
	switch st.def.Type {
	case asl.TypePass:
		out, err = s.pass(v)
		next = st.def.Next
	case asl.TypeTask:
		out, next, err = s.task(ctx, v)
	case asl.TypeChoice:
		out, next, err = s.choice(v)
	case asl.TypeWait:
		out, err = s.wait(ctx, v)
		next = st.def.Next
	case asl.TypeSucceed:
		out, err = s.succeed(v)
		next = ""
	case asl.TypeFail:
		return nil, "", s.fail(v)
	case asl.TypeParallel:
		out, next, err = s.parallel(ctx, v)
	case asl.TypeMap:
		out, next, err = s.mapState(ctx, v)
	}
	if err != nil {
		return nil, "", err
	}
	var resume any
	if next != "" {
		resume = exitResume{Next: next}
	}
	s.emit(st.exited, stateExitedDetails{Name: st.name, Output: jsonString(out)}, resume)
	return out, next, nil
}

func recordedExit(e Event) (any, string, error) {
	var d stateExitedDetails
	if err := json.Unmarshal(e.Details, &d); err != nil {
		return nil, "", err
	}
	out, err := payload.Decode([]byte(d.Output))
	if err != nil {
		return nil, "", err
	}
	var r exitResume
	if len(e.Resume) > 0 {
		if err := json.Unmarshal(e.Resume, &r); err != nil {
			return nil, "", err
		}
	}
	return out, r.Next, nil
}

// enteredID returns the ID of the visit's entry event, which failure
// causes name; an entry still queued is made durable first, so that it
// has one.
func (s *scope) enteredID(v *visit) int64 {
	if v.entered.ID == 0 && v.enteredAt >= 0 {
		// A journal error here surfaces at the scope's next flush.
		_ = s.flush(context.Background())
	}
	return v.entered.ID
}

// context builds $$ for a state.
func (s *scope) context(v *visit, retryCount int, token string, item map[string]any) map[string]any {
	x := s.run
	st := map[string]any{
		"Name":        v.st.name,
		"EnteredTime": formatTime(v.entered.Timestamp),
	}
	switch v.st.def.Type {
	case asl.TypeTask, asl.TypeParallel, asl.TypeMap:
		// Only the states that can retry have a RetryCount.
		st["RetryCount"] = jsonInt(int64(retryCount))
	}
	c := map[string]any{
		"Execution":    x.contextExecution,
		"StateMachine": x.contextStateMachine,
		"State":        st,
	}
	if token != "" {
		c["Task"] = map[string]any{"Token": token}
	}
	if item != nil {
		c["Map"] = map[string]any{"Item": item}
	}
	return c
}

// effectiveInput applies InputPath to a state's input.
func (s *scope) effectiveInput(v *visit, ctxObj any) (any, error) {
	st := v.st
	if st.inputPathNull {
		return map[string]any{}, nil
	}
	if st.inputPath == nil {
		return v.input, nil
	}
	out, err := st.inputPath.Get(v.input, ctxObj)
	if err != nil {
		return nil, s.pathFailure(v, "InputPath", st.inputPath, v.input, err)
	}
	return out, nil
}

// parametersOf applies Parameters to the effective input.
func (s *scope) parametersOf(v *visit, t *payload.Template, input, ctxObj any) (any, error) {
	if t == nil {
		return input, nil
	}
	out, err := t.Eval(input, ctxObj)
	if err != nil {
		return nil, s.stateFailure(v, err)
	}
	return out, nil
}

// outputOf applies ResultSelector (when selector), ResultPath and
// OutputPath to a state's result.
func (s *scope) outputOf(v *visit, result any, selector bool, ctxObj any) (any, error) {
	st := v.st
	var err error
	if selector && st.resultSelector != nil {
		if result, err = st.resultSelector.Eval(result, ctxObj); err != nil {
			return nil, s.stateFailure(v, err)
		}
	}
	out, err := s.applyResultPath(v, st.resultPath, st.resultNull, result)
	if err != nil {
		return nil, err
	}
	return s.applyOutputPath(v, out, ctxObj)
}

func (s *scope) applyResultPath(v *visit, ref *jsonpath.Path, null bool, result any) (any, error) {
	switch {
	case null:
		return v.input, nil
	case ref == nil:
		return result, nil
	}
	out, err := jsonpath.Set(v.input, ref, result)
	if err != nil {
		var f *asl.Failure
		if errors.As(err, &f) {
			return nil, f
		}
		return nil, asl.Failf(asl.ErrResultPathMatchFailure, "%v", err)
	}
	return out, nil
}

func (s *scope) applyOutputPath(v *visit, out any, ctxObj any) (any, error) {
	st := v.st
	if st.outputPathNull {
		return map[string]any{}, nil
	}
	if st.outputPath == nil {
		return out, nil
	}
	res, err := st.outputPath.Get(out, ctxObj)
	if err != nil {
		return nil, s.pathFailure(v, "OutputPath", st.outputPath, out, err)
	}
	return res, nil
}

// pathFailure is the States.Runtime failure of an InputPath, OutputPath
// or similar path that selects nothing.
func (s *scope) pathFailure(v *visit, field string, p *jsonpath.Path, input any, err error) error {
	var f *asl.Failure
	if errors.As(err, &f) {
		return f
	}
	detail := "No results for path: " + normalizedPath(p.String())
	var m *jsonpath.MatchError
	if errors.As(err, &m) {
		detail = m.Detail
	}
	return asl.Failf(asl.ErrRuntime,
		"An error occurred while executing the state '%s' (entered at the event id #%d). Invalid path '%s' : %s",
		v.st.name, s.enteredID(v), p, detail)
}

// stateFailure turns an error of evaluating a template or intrinsic into
// the state's failure, keeping its ASL name.
func (s *scope) stateFailure(v *visit, err error) error {
	var f *asl.Failure
	if errors.As(err, &f) {
		if f.Name == asl.ErrRuntime && !strings.HasPrefix(f.Cause, "An error occurred") {
			return asl.Failf(asl.ErrRuntime, "An error occurred while executing the state '%s' (entered at the event id #%d). %s",
				v.st.name, s.enteredID(v), f.Cause)
		}
		return f
	}
	return asl.Failf(asl.ErrRuntime, "An error occurred while executing the state '%s' (entered at the event id #%d). %v",
		v.st.name, s.enteredID(v), err)
}

// asFailure keeps an *asl.Failure and makes any other error a
// States.Runtime one.
func asFailure(err error) error {
	var f *asl.Failure
	if errors.As(err, &f) {
		return f
	}
	return asl.Failf(asl.ErrRuntime, "%v", err)
}

// normalizedPath writes a simple dotted path the way AWS's messages do:
// $.a.b[0] as $['a']['b'][0].
func normalizedPath(p string) string {
	rest, ok := strings.CutPrefix(p, "$")
	if !ok {
		return p
	}
	var b strings.Builder
	b.WriteString("$")
	for rest != "" {
		switch rest[0] {
		case '.':
			rest = rest[1:]
			end := strings.IndexAny(rest, ".[")
			if end < 0 {
				end = len(rest)
			}
			b.WriteString("['" + rest[:end] + "']")
			rest = rest[end:]
		case '[':
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				b.WriteString(rest)
				return b.String()
			}
			b.WriteString(rest[:end+1])
			rest = rest[end+1:]
		default:
			b.WriteString(rest)
			return b.String()
		}
	}
	return b.String()
}

// getPath evaluates a …Path field of a state against its effective input.
func (s *scope) getPath(v *visit, p *jsonpath.Path, input, ctxObj any) (any, error) {
	out, err := p.Get(input, ctxObj)
	if err != nil {
		return nil, s.pathFailure(v, "", p, input, err)
	}
	return out, nil
}

// positiveInt reads a …SecondsPath, MaxConcurrencyPath or similar value.
func positiveInt(v any) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := n.Int64()
	if err != nil || i < 0 {
		return 0, false
	}
	return i, true
}

func (s *scope) pass(v *visit) (any, error) {
	ctxObj := s.context(v, 0, "", nil)
	in, err := s.effectiveInput(v, ctxObj)
	if err != nil {
		return nil, err
	}
	result, err := s.parametersOf(v, v.st.parameters, in, ctxObj)
	if err != nil {
		return nil, err
	}
	if v.st.hasResult {
		result = v.st.result
	}
	return s.outputOf(v, result, false, ctxObj)
}

func (s *scope) succeed(v *visit) (any, error) {
	ctxObj := s.context(v, 0, "", nil)
	in, err := s.effectiveInput(v, ctxObj)
	if err != nil {
		return nil, err
	}
	return s.applyOutputPath(v, in, ctxObj)
}

func (s *scope) fail(v *visit) error {
	st := v.st
	f := &asl.Failure{Name: st.def.Error, Cause: st.def.Cause}
	ctxObj := s.context(v, 0, "", nil)
	for _, p := range []struct {
		expr  *valueExpr
		field string
		dst   *string
	}{{st.errorPath, "ErrorPath", &f.Name}, {st.causePath, "CausePath", &f.Cause}} {
		if p.expr == nil {
			continue
		}
		val, err := p.expr.eval(v.input, ctxObj)
		if err != nil {
			if p.expr.path != nil {
				return s.pathFailure(v, p.field, p.expr.path, v.input, err)
			}
			return s.stateFailure(v, err)
		}
		str, ok := val.(string)
		if !ok {
			return asl.Failf(asl.ErrRuntime, "An error occurred while executing the state '%s' (entered at the event id #%d). The %s '%s' does not reference a string: %s",
				st.name, s.enteredID(v), p.field, p.expr.src, jsonString(val))
		}
		*p.dst = str
	}
	return f
}

func (s *scope) choice(v *visit) (any, string, error) {
	ctxObj := s.context(v, 0, "", nil)
	in, err := s.effectiveInput(v, ctxObj)
	if err != nil {
		return nil, "", err
	}
	next := ""
	for _, r := range v.st.choices {
		ok, err := r.eval(in, ctxObj)
		if err != nil {
			return nil, "", s.stateFailure(v, err)
		}
		if ok {
			next = r.next
			break
		}
	}
	if next == "" {
		next = v.st.def.Default
	}
	if next == "" {
		return nil, "", asl.Failf(asl.ErrNoChoiceMatched, "No Matches!")
	}
	out, err := s.applyOutputPath(v, in, ctxObj)
	return out, next, err
}

type waitResume struct {
	Until time.Time `json:"until"`
}

// wait sleeps until the end the state computed when it was entered; a
// resumed Wait keeps that end, recorded with the entry's timestamp.
func (s *scope) wait(ctx context.Context, v *visit) (any, error) {
	st := v.st
	ctxObj := s.context(v, 0, "", nil)
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
		n, ok := positiveInt(val)
		if !ok {
			return nil, asl.Failf(asl.ErrRuntime,
				"An error occurred while executing the state '%s' (entered at the event id #%d). The SecondsPath parameter does not reference a valid integer value: %s",
				st.name, s.enteredID(v), jsonString(val))
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
	return s.applyOutputPath(v, in, ctxObj)
}
