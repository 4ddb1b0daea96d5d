package runs

import (
	"fmt"

	"github.com/velocity-ci/velocity/internal/fault"
)

// ErrInvalid classifies a request the caller has to change: a definition
// with errors, an unknown name, a run that cannot be re-run. Callers test
// with errors.Is; the message says what to do.
// It is the Invalid kind of package fault, which the CLI and the server
// map to an exit code and a status.
var ErrInvalid = fault.Invalid

// ErrNotRunning is returned for a run that does not execute in this
// process (it finished, or another process runs it).
var ErrNotRunning = fault.New(fault.Conflict, "run is not running here")

// InvalidError is an ErrInvalid with, for a definition, every problem
// found (file:line:col: message), one a line.
type InvalidError struct {
	Problems []string
	Err      error
}

func (e *InvalidError) Error() string   { return e.Err.Error() }
func (e *InvalidError) Unwrap() []error { return []error{ErrInvalid, e.Err} }

func invalidf(format string, args ...any) error {
	return &InvalidError{Err: fmt.Errorf(format, args...)}
}
