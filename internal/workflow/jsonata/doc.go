// Package jsonata evaluates JSONata expressions as Step Functions does:
// the language and library of the reference implementation, jsonata 2.0.6,
// with $eval removed and Step Functions' functions added ($partition,
// $range, $hash, $random with an optional seed, $uuid and $parse).
//
// Values are the workflow packages' JSON model (package jsonvalue):
// *jsonvalue.Object, []any, json.Number, string, bool and nil. Evaluate
// accepts them as they are and returns them so: numbers the expression
// computes come back as json.Number written as JavaScript writes them,
// objects keep the order in which their members were built, and a result
// that has no value is Undefined, distinct from JSON null.
//
//	e, err := jsonata.Compile("$sum($states.input.items.(qty * price))")
//	v, err := e.Evaluate(ctx, jsonata.Undefined, map[string]any{"states": states})
//
// Errors are *Error with the reference's code (S0xxx syntax, T0xxx-T2xxx
// type, D1xxx-D3xxx evaluation) and the offset in the expression where the
// reference reports it; this package adds U1001 for an exceeded limit (the
// error also wraps ErrLimit) and D3150-D3153 for misuse of Step Functions'
// functions. Limits bounds what an untrusted expression may cost; the
// context given to Evaluate bounds its time.
//
// The parser and evaluator follow the reference's structure (its Pratt
// parser, its AST post-processing into path steps, stages and tuple
// streams for the # and @ bindings and the % parent operator), so that
// the singleton-sequence rules come out the same. testdata/differential
// holds a corpus run through the reference; TestDifferential runs it and
// lists the known differences. Other differences known:
//
//   - Regular expressions are Go's RE2, not JavaScript's: look-around and
//     back-references are rejected at compile time (S0302).
//   - Date/time pictures of $fromMillis support the numeric, name (N, n,
//     Nn), word (w) and ordinal (o) presentations, not calendars or
//     languages other than English; $toMillis with a picture reads the
//     numeric components only, and without one reads ISO 8601.
//   - $formatNumber with a zero-digit outside the Basic Multilingual
//     Plane works here; the reference, counting UTF-16 units, refuses it.
//   - $random(seed) is repeatable for one seed but does not give the
//     numbers Step Functions' generator gives.
//   - A function as the result, or inside one, is dropped as
//     JSON.stringify drops it (Undefined at the top, null in an array).
package jsonata
