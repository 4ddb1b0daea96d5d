// Package intrinsic parses and evaluates the States Language's intrinsic
// functions, States.Format('x {}', $.a) and the seventeen others, as Step
// Functions does for JSONPath states.
//
// Calls are compiled once by Parse (argument counts and literal Format
// templates are checked then) and evaluated many times by Eval. Failures
// are *failure.Failure values (asl.Failure): States.IntrinsicFailure for a
// bad argument, States.Runtime for a path argument that selects nothing,
// with a cause that names the whole expression, "The function '...' had
// the following error: ...".
package intrinsic
