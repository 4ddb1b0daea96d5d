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
	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
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
	// AssignedVariables holds, as AWS's history does, the variables the
	// state's Assign (or the Catcher's, or the Choice rule's) set, each
	// as JSON text; a resumed execution reads them back from here.
	AssignedVariables        map[string]string         `json:"assignedVariables,omitempty"`
	AssignedVariablesDetails *assignedVariablesDetails `json:"assignedVariablesDetails,omitempty"`
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
	// assigned are the variables the visit sets once it is done.
	assigned *jsonvalue.Object
	// ctx bounds the JSONata expressions the visit evaluates: a stopped
	// execution does not wait for one to end.
	ctx context.Context
	// failedAt is when the iteration or branch that failed a Map's or
	// Parallel's last attempt recorded its last event: the time a retry's
	// delay counts from.
	failedAt time.Time
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
		if s.testExit(next) || next == "" {
			return out, nil
		}
		cur, input = next, out
	}
}

func (s *scope) visitState(ctx context.Context, st *state, input any) (any, string, error) {
	if s.visits == nil {
		s.visits = make(map[string]int)
	}
	v := &visit{st: st, number: s.visits[st.name], input: input, ctx: ctx}
	s.visits[st.name]++

	if e, ok := s.peek(); ok && e.Type == st.entered && enteredName(e, st.name) {
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
				out, next, assigned, err := recordedExit(r)
				if err != nil {
					return nil, "", &stopError{err: fmt.Errorf("%w: event %d: %v", ErrHistory, r.ID, err)}
				}
				s.pos = i + 1
				s.consumed(r)
				s.setVars(assigned)
				return out, next, nil
			}
		}
		v.entered, _ = s.replay(st.entered)
		v.resumed = true
		v.enteredAt = -1
		if s.recordedAbort() {
			// The visit was stopped because a sibling failed: it stays
			// stopped, nothing in it runs again.
			return nil, "", errAbortedBefore
		}
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
		if st.jsonata {
			out, err = s.jresult(v, v.input, false, s.context(v, 0, ""))
			if err == nil && st.joutput == nil {
				out = v.input
			}
		} else {
			out, err = s.pass(v)
		}
		next = st.def.Next
	case asl.TypeTask:
		out, next, err = s.task(ctx, v)
	case asl.TypeChoice:
		if st.jsonata {
			out, next, err = s.jchoiceState(v)
		} else {
			out, next, err = s.choice(v)
		}
	case asl.TypeWait:
		out, err = s.wait(ctx, v)
		next = st.def.Next
	case asl.TypeSucceed:
		if st.jsonata {
			out, err = s.joutputOf(v, s.context(v, 0, ""), jstates{input: v.input}, v.input)
		} else {
			out, err = s.succeed(v)
		}
		next = ""
	case asl.TypeFail:
		return nil, "", s.fail(v)
	case asl.TypeParallel:
		out, next, err = s.parallel(ctx, v)
	case asl.TypeMap:
		out, next, err = s.mapState(ctx, v)
	}
	if err != nil {
		if t := abortedType(st.def.Type); t != "" && isStop(err) && aborting(ctx) {
			s.emit(t, nil, nil)
		}
		return nil, "", err
	}
	var resume any
	if next != "" {
		resume = exitResume{Next: next}
	}
	output := jsonString(out)
	if len(output) > MaxPayloadBytes {
		return nil, "", tooLarge(st.name)
	}
	vars, varsDetails := assignedDetails(v.assigned)
	s.emit(st.exited, stateExitedDetails{Name: st.name, Output: output, AssignedVariables: vars, AssignedVariablesDetails: varsDetails}, resume)
	// Written only now, once the output is computed: a state's own
	// paths and Assign values read the variables as they were before it.
	s.setVars(v.assigned)
	return out, next, nil
}

// enteredName reports whether a recorded entry event is the entry into
// the state called name (its details start with the name, as written by
// stateEnteredDetails), so that a history does not lend one state's
// output to another after a definition changed.
func enteredName(e Event, name string) bool {
	prefix := `{"name":` + string(mustJSON(name))
	return len(e.Details) > len(prefix) && string(e.Details[:len(prefix)]) == prefix
}

// errAbortedBefore stops a walk at a visit the history records as
// aborted. It counts as stopped by a failing sibling.
var errAbortedBefore = &stopError{err: errSiblingFailed}

// recordedAbort consumes the rest of an unfinished recorded visit when it
// ends in a …StateAborted event.
func (s *scope) recordedAbort() bool {
	for i := s.pos; i < len(s.rec); i++ {
		t := string(s.rec[i].Type)
		if strings.HasSuffix(t, "StateEntered") {
			return false
		}
		if strings.HasSuffix(t, "StateAborted") {
			s.consumed(s.rec[i])
			s.pos = i + 1
			return true
		}
	}
	return false
}

// abortedType is the event recording that a state of type typ was
// stopped while it ran, "" for states that never wait.
func abortedType(typ string) EventType {
	switch typ {
	case asl.TypeTask:
		return TaskStateAborted
	case asl.TypeWait:
		return WaitStateAborted
	case asl.TypeMap:
		return MapStateAborted
	case asl.TypeParallel:
		return ParallelStateAborted
	}
	return ""
}

// aborting reports whether ctx was stopped for the execution's sake (a
// failed sibling, StopExecution, the execution's timeout) rather than
// for a shutdown of the process, which records nothing.
func aborting(ctx context.Context) bool {
	if ctx.Err() == nil {
		return false
	}
	cause := context.Cause(ctx)
	var abort *Abort
	return errors.Is(cause, errSiblingFailed) || errors.Is(cause, errExecutionTimedOut) || errors.As(cause, &abort)
}

func recordedExit(e Event) (any, string, *jsonvalue.Object, error) {
	var d stateExitedDetails
	if err := json.Unmarshal(e.Details, &d); err != nil {
		return nil, "", nil, err
	}
	out, err := payload.Decode([]byte(d.Output))
	if err != nil {
		return nil, "", nil, err
	}
	var r exitResume
	if len(e.Resume) > 0 {
		if err := json.Unmarshal(e.Resume, &r); err != nil {
			return nil, "", nil, err
		}
	}
	assigned, err := recordedAssigned(d.AssignedVariables)
	if err != nil {
		return nil, "", nil, err
	}
	return out, r.Next, assigned, nil
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

// context builds $$ for a state, members in the order Step Functions
// gives them (recorded): Execution, StateMachine, State, then Task.
//
// It comes wrapped in a *jsonpath.Env with the scope's variables, which is
// what paths, templates and intrinsics take as their context.
func (s *scope) context(v *visit, retryCount int, token string) *jsonpath.Env {
	x := s.run
	st := jsonvalue.NewObject(3)
	st.Set("Name", v.st.name)
	st.Set("EnteredTime", formatTime(v.entered.Timestamp))
	switch v.st.def.Type {
	case asl.TypeTask, asl.TypeParallel, asl.TypeMap:
		// Only the states that can retry have a RetryCount.
		st.Set("RetryCount", jsonInt(int64(retryCount)))
	}
	c := jsonvalue.NewObject(5)
	c.Set("Execution", x.contextExecution)
	c.Set("StateMachine", x.contextStateMachine)
	c.Set("State", st)
	if token != "" {
		c.Set("Task", object("Token", token))
	}
	return &jsonpath.Env{Context: c, Vars: s.lookupVar}
}

// object builds an object from keys and values in turn, in that order.
func object(kv ...any) *jsonvalue.Object {
	o := jsonvalue.NewObject(len(kv) / 2)
	for i := 0; i+1 < len(kv); i += 2 {
		o.Set(kv[i].(string), kv[i+1])
	}
	return o
}

// errorOutput is what a caught error or a failed Map iteration gives:
// {"Error", "Cause"}, in that order as Step Functions writes it.
func errorOutput(f *asl.Failure) *jsonvalue.Object {
	return object("Error", reportedName(f.Name), "Cause", f.Cause)
}

func (s *scope) pass(v *visit) (any, error) {
	ctxObj := s.context(v, 0, "")
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
	ctxObj := s.context(v, 0, "")
	in, err := s.effectiveInput(v, ctxObj)
	if err != nil {
		return nil, err
	}
	return s.applyOutputPath(v, in, ctxObj)
}

func (s *scope) fail(v *visit) error {
	st := v.st
	f := &asl.Failure{Name: st.def.Error, Cause: st.def.Cause}
	ctxObj := s.context(v, 0, "")
	if st.jsonata {
		for _, p := range []struct {
			field string
			dst   *string
		}{{"Error", &f.Name}, {"Cause", &f.Cause}} {
			str, ok, err := s.jstring(v, p.field, ctxObj, v.input)
			if err != nil {
				return err
			}
			if ok {
				*p.dst = str
			}
		}
		return f
	}
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
