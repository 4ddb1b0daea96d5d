// Package fault is the one vocabulary of failure that every layer of
// Velocity shares: a mechanism or a store says what kind of failure it
// met, and each adapter decides once, in one place, what that kind means
// to its user — an exit code in the CLI, an HTTP status in the server.
//
// The kinds:
//
//   - NotFound: what the request names does not exist (a run, a secret, a
//     blob, a release).
//   - Conflict: the request is well formed but the current state does not
//     allow it (the release already serves, a lease is held by another
//     holder, a name is taken).
//   - Invalid: the request itself is wrong (a bad flag, argument, field or
//     definition); asking again unchanged fails again.
//   - Unauthorised: the caller did not say who it is, or not credibly.
//   - Forbidden: the caller is known and may not do this.
//   - Unavailable: something the request needs cannot be reached now (a
//     server that is not running, a store that is busy); the same request
//     may succeed later.
//
// An error without a kind is an internal failure: the user learns that
// something broke, the operator's log gets the detail.
//
// Kinds are sentinel errors tested with errors.Is:
//
//	if errors.Is(err, fault.NotFound) { … }
//
// and given to errors by the constructors, which keep the message exactly
// as written:
//
//	return fault.NotFoundf("run %d", id)         // message "run 7"
//	return fault.Mark(fault.Conflict, err)       // err's message, and kind
//	var ErrGone = fault.New(fault.NotFound, "no such secret")
//
// A package may keep its own sentinel (store.ErrNotFound, secret.ErrNotFound)
// as an alias of a kind, or as a sentinel of the kind with its own words;
// either way errors.Is finds the kind.
//
// KindOf gives the kind the adapters map: when an error carries several
// kinds (an invalid request that mentions a missing file), the outermost one
// — the one given last, closest to the user — wins.
package fault
