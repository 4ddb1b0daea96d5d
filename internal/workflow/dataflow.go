package workflow

import (
	"encoding/json"
	"errors"
	"strings"

	"github.com/velocity-ci/velocity/internal/workflow/asl"
	"github.com/velocity-ci/velocity/internal/workflow/jsonpath"
	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
	"github.com/velocity-ci/velocity/internal/workflow/payload"
)

// effectiveInput applies InputPath to a state's input.
func (s *scope) effectiveInput(v *visit, ctxObj any) (any, error) {
	out, err := s.inputPathOf(v, ctxObj)
	if err == nil && !v.st.jsonata {
		s.inspect(func(i *Inspection) *string { return &i.AfterInputPath }, out)
	}
	return out, err
}

func (s *scope) inputPathOf(v *visit, ctxObj any) (any, error) {
	st := v.st
	if st.inputPathNull {
		return &jsonvalue.Object{}, nil
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
	if v.st.jsonata {
		if v.st.jargs == nil {
			return input, nil
		}
		out, err := s.jeval(v, "Arguments", v.st.jargs, ctxObj, jstates{input: v.input})
		if err == nil {
			s.inspect(func(i *Inspection) *string { return &i.AfterArguments }, out)
		}
		return out, err
	}
	out := input
	if t != nil {
		var err error
		if out, err = t.Eval(input, ctxObj); err != nil {
			return nil, s.stateFailure(v, err)
		}
	}
	s.inspect(func(i *Inspection) *string { return &i.AfterParameters }, out)
	return out, nil
}

// outputOf applies ResultSelector (when selector), ResultPath and
// OutputPath to a state's result.
func (s *scope) outputOf(v *visit, result any, selector bool, ctxObj any) (any, error) {
	st := v.st
	var err error
	s.inspect(func(i *Inspection) *string { return &i.Result }, result)
	if st.jsonata {
		return s.jresult(v, result, true, ctxObj)
	}
	if selector && st.resultSelector != nil {
		if result, err = st.resultSelector.Eval(result, ctxObj); err != nil {
			return nil, s.stateFailure(v, err)
		}
	}
	if selector {
		s.inspect(func(i *Inspection) *string { return &i.AfterResultSelector }, result)
	}
	// AWS evaluates a JSONPath Assign against the state's result: a Pass
	// state's Result or Parameters, a Task's, Map's or Parallel's result
	// after ResultSelector.
	if v.assigned, err = s.evalAssign(v, st.assign, result, ctxObj); err != nil {
		return nil, err
	}
	out, err := s.applyResultPath(v, st.resultPath, st.resultNull, result)
	if err != nil {
		return nil, err
	}
	s.inspect(func(i *Inspection) *string { return &i.AfterResultPath }, out)
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
		return &jsonvalue.Object{}, nil
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

// maxSeconds is Step Functions' bound on every duration field (Wait's
// Seconds, TimeoutSeconds, HeartbeatSeconds): asl.Validate holds literal
// values to it, and the interpreter the values their …Path forms
// reference, which must never reach time.Duration unchecked (above
// 9,223,372,036 s it overflows, and a Wait or a timeout ends at once).
const maxSeconds = 99999999

// seconds reads a …SecondsPath value: an integer from min to maxSeconds.
func seconds(v any, min int64) (int64, bool) {
	n, ok := positiveInt(v)
	if !ok || n < min || n > maxSeconds {
		return 0, false
	}
	return n, true
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
