package stepfunctions

import (
	"errors"
	"net/http"
	"strings"

	"github.com/velocity-ci/velocity/internal/access"
)

// Target says whether r is a request of the Step Functions API: AWS's
// JSON protocol names the action in a header, not in the path.
func Target(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
}

// RoleOf is the action r asks for and the role a token needs for it:
// viewer to read (Describe…, List…, GetExecutionHistory, and
// ValidateStateMachineDefinition, which changes nothing), developer for
// the rest. An action not served needs a viewer, who then learns so.
func RoleOf(r *http.Request) (string, access.Role) {
	target := r.Header.Get("X-Amz-Target")
	name := strings.TrimPrefix(target, targetPrefix)
	switch {
	case actionNamed(name) == nil,
		strings.HasPrefix(name, "Describe"), strings.HasPrefix(name, "List"),
		name == "GetExecutionHistory", name == "ValidateStateMachineDefinition":
		return target, access.Viewer
	}
	return target, access.Developer
}

// Refuse answers a request refused before its action, in AWS's error
// shape, so that the SDKs raise their typed errors: an unknown access
// key ID is UnrecognizedClientException, a role too low
// AccessDeniedException, a token over its rate ThrottlingException
// (which the SDKs retry).
func Refuse(w http.ResponseWriter, code int, err error) {
	typ := "InternalServerError"
	switch code {
	case http.StatusUnauthorized:
		typ = "UnrecognizedClientException"
	case http.StatusForbidden:
		typ = "AccessDeniedException"
	case http.StatusTooManyRequests:
		typ = "ThrottlingException"
		code = http.StatusBadRequest // AWS's status for it
	}
	if err == nil {
		err = errors.New(http.StatusText(code))
	}
	writeError(w, &apiError{typ, err.Error(), code})
}
