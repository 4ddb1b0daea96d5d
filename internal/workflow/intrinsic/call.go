package intrinsic

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/velocity-ci/velocity/internal/workflow/failure"
	"github.com/velocity-ci/velocity/internal/workflow/jsonpath"
)

// Error names the intrinsics fail with.
const (
	errIntrinsicFailure = "States.IntrinsicFailure"
	errRuntime          = "States.Runtime"
)

// maxDepth is how deeply calls may nest in one field (AWS allows 10).
const maxDepth = 10

// Call is a compiled intrinsic function call; it is safe for concurrent
// use and Eval never re-parses it.
type Call struct {
	src  string
	fn   *function
	args []arg
	// format is the template of a States.Format whose first argument is a
	// string literal, split at its {} placeholders.
	format []string
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
// Argument counts, and the placeholders of a literal Format template, are
// checked here so that a definition is rejected before it runs.
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
// A bad argument fails with a *failure.Failure named
// States.IntrinsicFailure; a path argument that selects nothing fails
// with States.Runtime, as on AWS. Both causes name the whole expression.
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
	return nil, &failure.Failure{Name: errIntrinsicFailure, Cause: fmt.Sprintf(
		"The function '%s' had the following error: %s", c.src, err)}
}

// missingArg is a path argument that selected nothing.
type missingArg struct{ field string }

func (m *missingArg) Error() string { return "no match for " + m.field }

func (c *Call) eval(input, context any) (any, error) {
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
	return c.fn.eval(c, vals)
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
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}
