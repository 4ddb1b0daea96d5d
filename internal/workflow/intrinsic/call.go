// Package intrinsic parses and evaluates the States Language's intrinsic
// functions (States.Format, States.Array, ...).
package intrinsic

import "errors"

// Call is a compiled intrinsic function call; safe for concurrent use.
type Call struct {
	src string
}

// Parse compiles an intrinsic call such as "States.Format('x {}', $.a)".
func Parse(expr string) (*Call, error) { return nil, errors.New("not implemented") }

// String returns the expression as written.
func (c *Call) String() string { return c.src }

// Eval runs the call; failures are *asl.Failure named States.IntrinsicFailure.
func (c *Call) Eval(input, context any) (any, error) { return nil, errors.New("not implemented") }
