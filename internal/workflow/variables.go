package workflow

import (
	"fmt"
	"sort"

	"github.com/velocity-ci/velocity/internal/workflow/asl"
	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
	"github.com/velocity-ci/velocity/internal/workflow/payload"
)

// Step Functions' quotas on workflow variables ("Passing data between
// states with variables", AWS Step Functions developer guide), as UTF-8
// encoded JSON.
const (
	// MaxVariableBytes bounds the value of one variable: 256 KiB.
	MaxVariableBytes = 262144
	// MaxAssignBytes bounds all the values one Assign sets together: 256 KiB.
	MaxAssignBytes = 262144
	// MaxVariablesBytes bounds the variables a state can read at once
	// (its scope's and those of the scopes around it, the execution's
	// top level first): 10 MiB, Step Functions' quota per execution.
	MaxVariablesBytes = 10 << 20
)

// assignedVariablesDetails is AWS's companion of assignedVariables in a
// …StateExited event; values are never truncated here.
type assignedVariablesDetails struct {
	Truncated bool `json:"truncated"`
}

// lookupVar finds a variable in this scope or, failing that, in the
// scopes around it: a Map iteration or Parallel branch reads the
// variables of the scope its state runs in, which do not change while it
// runs (the enclosing state's own Assign is applied only once it is
// done), so reading them needs no copy and no lock.
func (s *scope) lookupVar(name string) (any, bool) {
	for sc := s; sc != nil; sc = sc.parent {
		if v, ok := sc.vars[name]; ok {
			return v, true
		}
	}
	return nil, false
}

// evalAssign computes an Assign against doc (the state's result, input or
// error output, as AWS defines per state type) before any of it is
// written, so that every value sees the variables as they were when the
// state started. It checks the size quotas.
func (s *scope) evalAssign(v *visit, t *payload.Template, doc, ctxObj any) (*jsonvalue.Object, error) {
	if t == nil {
		return nil, nil
	}
	out, err := t.Eval(doc, ctxObj)
	if err != nil {
		return nil, s.stateFailure(v, err)
	}
	obj, _ := out.(*jsonvalue.Object)
	return s.checkAssign(v, obj)
}

// checkAssign holds the variables an Assign computed to the size quotas.
func (s *scope) checkAssign(v *visit, obj *jsonvalue.Object) (*jsonvalue.Object, error) {
	if obj == nil {
		return nil, nil
	}
	total := 0
	for _, m := range obj.Members() {
		n := len(jsonString(m.Value))
		if n > MaxVariableBytes {
			return nil, asl.Failf(asl.ErrDataLimitExceeded,
				"The state '%s' assigns %d bytes to the variable '%s', more than the %d bytes (MaxVariableBytes, 256 KiB) a variable may hold",
				v.st.name, n, m.Key, MaxVariableBytes)
		}
		total += n
	}
	if total > MaxAssignBytes {
		return nil, asl.Failf(asl.ErrDataLimitExceeded,
			"The Assign of state '%s' sets %d bytes of variables, more than the %d bytes (MaxAssignBytes, 256 KiB) one Assign may set",
			v.st.name, total, MaxAssignBytes)
	}
	held := 0
	for sc := s; sc != nil; sc = sc.parent {
		held += sc.varBytes
	}
	for _, m := range obj.Members() {
		// What a name already holds in this scope is replaced.
		held -= s.varSizes[m.Key]
	}
	if held+total > MaxVariablesBytes {
		return nil, asl.Failf(asl.ErrDataLimitExceeded,
			"The Assign of state '%s' would make the variables it can read %d bytes, more than the %d bytes (MaxVariablesBytes, 10 MiB) an execution may hold",
			v.st.name, held+total, MaxVariablesBytes)
	}
	return obj, nil
}

// setVars writes the values an Assign computed.
func (s *scope) setVars(assigned *jsonvalue.Object) {
	if assigned == nil {
		return
	}
	if s.vars == nil {
		s.vars = make(map[string]any, assigned.Len())
		s.varSizes = make(map[string]int, assigned.Len())
	}
	for _, m := range assigned.Members() {
		n := len(jsonString(m.Value))
		s.varBytes += n - s.varSizes[m.Key]
		s.vars[m.Key], s.varSizes[m.Key] = m.Value, n
	}
}

// assignedDetails is the assignedVariables map of a …StateExited event:
// each value as its JSON text, the way GetExecutionHistory shows it.
func assignedDetails(assigned *jsonvalue.Object) (map[string]string, *assignedVariablesDetails) {
	if assigned == nil {
		return nil, nil
	}
	out := make(map[string]string, assigned.Len())
	for _, m := range assigned.Members() {
		out[m.Key] = jsonString(m.Value)
	}
	return out, &assignedVariablesDetails{}
}

// recordedAssigned reads back the variables a recorded exit assigned, so
// that a resumed execution sees the values the first run computed.
func recordedAssigned(vars map[string]string) (*jsonvalue.Object, error) {
	if len(vars) == 0 {
		return nil, nil
	}
	names := make([]string, 0, len(vars))
	for name := range vars {
		names = append(names, name)
	}
	sort.Strings(names)
	out := jsonvalue.NewObject(len(names))
	for _, name := range names {
		val, err := payload.Decode([]byte(vars[name]))
		if err != nil {
			return nil, fmt.Errorf("assigned variable %q: %w", name, err)
		}
		out.Set(name, val)
	}
	return out, nil
}
