package fault

import (
	"errors"
	"fmt"
)

// Kind is a class of failure; its only values are the kinds below. A Kind
// is an error so that errors.Is(err, fault.NotFound) tests for it.
type Kind struct{ name string }

func (k *Kind) Error() string { return k.name }

// The kinds; the package documentation says when each applies.
var (
	NotFound     = &Kind{"not found"}
	Conflict     = &Kind{"conflict"}
	Invalid      = &Kind{"invalid"}
	Unauthorised = &Kind{"unauthorised"}
	Forbidden    = &Kind{"forbidden"}
	Unavailable  = &Kind{"unavailable"}
)

// kinded is an error with a kind. The kind comes first among the errors it
// unwraps to, so that errors.As — and with it KindOf — meets it before any
// kind of the error it wraps: the outermost kind wins.
type kinded struct {
	kind *Kind
	err  error
}

func (e *kinded) Error() string   { return e.err.Error() }
func (e *kinded) Unwrap() []error { return []error{e.kind, e.err} }

// New returns an error of kind k whose message is msg, for a package's
// own sentinel: var ErrGone = fault.New(fault.NotFound, "no such secret").
// Each call returns a distinct error.
func New(k *Kind, msg string) error { return &kinded{k, errors.New(msg)} }

// Errorf is fmt.Errorf (with %w) whose result is also of kind k.
func Errorf(k *Kind, format string, args ...any) error {
	return &kinded{k, fmt.Errorf(format, args...)}
}

// Mark returns err, unchanged in message and in what it wraps, as an error
// of kind k as well; nil stays nil.
func Mark(k *Kind, err error) error {
	if err == nil {
		return nil
	}
	return &kinded{k, err}
}

// NotFoundf is Errorf(NotFound, …).
func NotFoundf(format string, args ...any) error { return Errorf(NotFound, format, args...) }

// Conflictf is Errorf(Conflict, …).
func Conflictf(format string, args ...any) error { return Errorf(Conflict, format, args...) }

// Invalidf is Errorf(Invalid, …).
func Invalidf(format string, args ...any) error { return Errorf(Invalid, format, args...) }

// Unauthorisedf is Errorf(Unauthorised, …).
func Unauthorisedf(format string, args ...any) error { return Errorf(Unauthorised, format, args...) }

// Forbiddenf is Errorf(Forbidden, …).
func Forbiddenf(format string, args ...any) error { return Errorf(Forbidden, format, args...) }

// Unavailablef is Errorf(Unavailable, …).
func Unavailablef(format string, args ...any) error { return Errorf(Unavailable, format, args...) }

// KindOf returns the outermost kind in err's chain, or nil for an error
// without one (an internal failure). A kind that an error reports only
// through its own Is method is seen by errors.Is but not here.
func KindOf(err error) *Kind {
	var k *Kind
	if errors.As(err, &k) {
		return k
	}
	return nil
}
