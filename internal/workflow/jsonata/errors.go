package jsonata

import (
	"errors"
	"fmt"
)

// Error is a JSONata error: its Code is the reference implementation's
// (S0xxx syntax, T0xxx/T1xxx/T2xxx type, D1xxx-D3xxx evaluation), or
// "U1001" for an exceeded limit; Position is the offset in the expression
// (in UTF-16 code units) just past the token where it was found, as
// JSONata reports it.
type Error struct {
	Code     string
	Position int
	Message  string
	err      error
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s at position %d: %s", e.Code, e.Position, e.Message)
}

func (e *Error) Unwrap() error { return e.err }

// Codes this package adds to the reference's.
const (
	codeLimit    = "U1001" // a limit of Limits was exceeded, or ctx was done
	codeInternal = "U1099" // a bug in this package
)

// ErrLimit is wrapped by every error that reports an exceeded limit.
var ErrLimit = errors.New("jsonata limit exceeded")

func newError(code string, pos int, format string, args ...any) *Error {
	return &Error{Code: code, Position: pos, Message: fmt.Sprintf(format, args...)}
}

func limitError(pos int, name string, value any, what string) *Error {
	e := newError(codeLimit, pos, "%s exceeds the limit %s (%v)", what, name, value)
	e.err = ErrLimit
	return e
}
