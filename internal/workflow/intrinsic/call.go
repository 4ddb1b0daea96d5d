package intrinsic

import (
	"errors"
	"fmt"
	"strings"

	"github.com/velocity-ci/velocity/internal/workflow/failure"
	"github.com/velocity-ci/velocity/internal/workflow/jsonpath"
	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

// errRuntime is the error every intrinsic failure has on AWS (the spec's
// States.IntrinsicFailure is not what Step Functions reports).
const errRuntime = "States.Runtime"

// maxDepth is how deeply calls may nest in one field (AWS allows 10).
const maxDepth = 10

// Call is a compiled intrinsic function call; it is safe for concurrent
// use and Eval never re-parses it.
type Call struct {
	src  string
	fn   *function
	args []arg
	// format is the template of a States.Format whose first argument is a
	// string literal, split at its {} placeholders; formatErr is set when
	// that template has a stray brace.
	format    []string
	formatErr bool
}

type argKind uint8

const (
	argLiteral argKind = iota
	argPath
	argCall
)

type arg struct {
	kind  argKind
	value any
	raw   string // a string literal as written, between its quotes
	path  *jsonpath.Path
	call  *Call
}

// Is reports whether a ".$" value is an intrinsic call rather than a path.
func Is(s string) bool { return strings.HasPrefix(s, "States.") }

// Parse compiles an intrinsic call such as "States.Format('x {}', $.a)".
// It checks what Step Functions checks when a definition is created: the
// call syntax, the function names, string escapes, nesting depth and a
// literal deep-merge flag. Argument counts and types, like Format
// placeholders, are checked when the call runs, where AWS checks them.
func Parse(expr string) (*Call, error) {
	ps := &parser{src: expr}
	c, err := ps.call(1)
	if err != nil {
		return nil, err
	}
	ps.space()
	if ps.pos != len(ps.src) {
		return nil, ps.fail("unexpected %q after the call", ps.src[ps.pos:])
	}
	return c, nil
}

// String returns the expression as written.
func (c *Call) String() string { return c.src }

// Eval runs the call against the state input and the context object.
// Every failure is a *failure.Failure named States.Runtime, as on AWS,
// whose cause names the whole expression: "The function '...' had the
// following error: The JsonPath argument for the field '$.x' could not be
// found in the input '...'" for a path argument that selects nothing,
// "... had the following error: Invalid arguments in States.X" for
// arguments the function does not accept.
func (c *Call) Eval(input, context any) (any, error) {
	v, err := c.eval(input, context)
	if err == nil {
		return v, nil
	}
	var miss *missingArg
	if errors.As(err, &miss) {
		return nil, &failure.Failure{Name: errRuntime, Cause: fmt.Sprintf(
			"The function '%s' had the following error: The JsonPath argument for the field '%s' could not be found in the input '%s'",
			c.src, miss.field, compact(input))}
	}
	var bad *invalidArgs
	if errors.As(err, &bad) {
		return nil, &failure.Failure{Name: errRuntime, Cause: fmt.Sprintf(
			"The function '%s' had the following error: Invalid arguments in %s", c.src, bad.fn)}
	}
	return nil, &failure.Failure{Name: errRuntime, Cause: fmt.Sprintf(
		"The function '%s' had the following error: %v", c.src, err)}
}

// invalidArgs is a call whose arguments its function does not accept;
// reason says which rule failed (AWS reports only the function name).
type invalidArgs struct {
	fn     string
	reason error
}

func (e *invalidArgs) Error() string { return "invalid arguments in " + e.fn + ": " + e.reason.Error() }

func (e *invalidArgs) Unwrap() error { return e.reason }

// missingArg is a path argument that selected nothing.
type missingArg struct{ field string }

func (m *missingArg) Error() string { return "no match for " + m.field }

func (c *Call) eval(input, context any) (any, error) {
	// What is wrong with the call itself is reported before any argument
	// is looked up.
	if n := len(c.args); n < c.fn.minArgs || (c.fn.maxArgs >= 0 && n > c.fn.maxArgs) {
		return nil, &invalidArgs{fn: c.fn.name, reason: fmt.Errorf("%s takes %s, got %d", c.fn.name, c.fn.arity(), n)}
	}
	if c.formatErr || (c.format != nil && len(c.format) != len(c.args)) {
		return nil, &invalidArgs{fn: c.fn.name, reason: errors.New("the template's {} placeholders do not match the values that follow it")}
	}
	vals := make([]any, len(c.args))
	for i := range c.args {
		a := &c.args[i]
		switch a.kind {
		case argLiteral:
			vals[i] = a.value
		case argPath:
			v, err := a.path.GetExisting(input, context)
			if err != nil {
				if errors.Is(err, jsonpath.ErrNoMatch) {
					field := a.path.String()
					if a.path.IsContext() {
						// AWS reports a context path rewritten against "$".
						field = field[1:]
					}
					return nil, &missingArg{field: field}
				}
				return nil, err
			}
			vals[i] = v
		case argCall:
			v, err := a.call.eval(input, context)
			if err != nil {
				return nil, err
			}
			vals[i] = v
		}
	}
	v, err := c.fn.eval(c, vals)
	if err != nil {
		var miss *missingArg
		if errors.As(err, &miss) {
			return nil, err
		}
		var bad *invalidArgs
		if errors.As(err, &bad) {
			return nil, err
		}
		return nil, &invalidArgs{fn: c.fn.name, reason: err}
	}
	return v, nil
}

func compact(v any) string {
	s, err := encode(v)
	if err != nil {
		return "?"
	}
	return s
}

// encode writes v as compact JSON, leaving <, > and & as they are.
func encode(v any) (string, error) {
	b, err := jsonvalue.Marshal(v)
	return string(b), err
}
