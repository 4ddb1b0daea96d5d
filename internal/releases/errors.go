package releases

import (
	"github.com/velocity-ci/velocity/internal/fault"
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
