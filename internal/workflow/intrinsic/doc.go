// Package intrinsic parses and evaluates the States Language's intrinsic
// functions, States.Format('x {}', $.a) and the seventeen others, as Step
// Functions does for JSONPath states.
//
// Calls are compiled once by Parse and evaluated many times by Eval.
// Parse checks what Step Functions checks when a definition is created
// (syntax, function names, escapes, nesting); argument counts and types
// are checked when the call runs, where AWS checks them. Every failure is
// a *failure.Failure (asl.Failure) named States.Runtime, which is what AWS
// reports (not the spec's States.IntrinsicFailure), with a cause that
// names the whole expression: "The function '...' had the following
// error: ...".
package intrinsic
