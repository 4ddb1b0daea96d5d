package releases

import (
	"fmt"

	"github.com/velocity-ci/velocity/internal/fault"
	"github.com/velocity-ci/velocity/internal/store"
)

// Error classes of the service, wrapped by the errors its methods return;
// missing things wrap store.ErrNotFound. They are kinds of package fault,
// so the CLI and the server map them as every other layer's.
var (
	// ErrInvalid: the request cannot be carried out as asked (a bad
	// field, a secret that is not set, a proxy address in use).
	ErrInvalid = fault.Invalid
	// ErrConflict: the request is fine but the state does not allow it
	// (nothing to roll back to, the release is already live).
	ErrConflict = fault.Conflict
	// ErrHosted: another process hosts the data directory's services
	// (velocity serve, or a velocity run that serves its deploys).
	ErrHosted = fault.New(fault.Conflict, "another process hosts the services of this data directory")
)

// classed is an error whose message is for the user as it stands, in
// one of the classes above.
type classed struct {
	msg   string
	class error
}

func (e *classed) Error() string { return e.msg }
func (e *classed) Unwrap() error { return e.class }

func invalid(format string, args ...any) error {
	return &classed{fmt.Sprintf(format, args...), ErrInvalid}
}

func conflict(format string, args ...any) error {
	return &classed{fmt.Sprintf(format, args...), ErrConflict}
}

func notFound(format string, args ...any) error {
	return &classed{fmt.Sprintf(format, args...), store.ErrNotFound}
}
