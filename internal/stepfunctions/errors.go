package stepfunctions

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/velocity-ci/velocity/internal/executions"
	"github.com/velocity-ci/velocity/internal/store"
)

// apiError is an error as Step Functions names it; the SDKs turn Type
// into their typed errors (*types.ExecutionDoesNotExist, …).
type apiError struct {
	Type    string
	Message string
	Status  int
}

func (e *apiError) Error() string { return e.Type + ": " + e.Message }

func validation(format string, args ...any) *apiError {
	return &apiError{"ValidationException", fmt.Sprintf(format, args...), http.StatusBadRequest}
}

func writeError(w http.ResponseWriter, e *apiError) {
	b, _ := json.Marshal(map[string]string{"__type": e.Type, "message": e.Message})
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-Errortype", e.Type)
	w.WriteHeader(e.Status)
	w.Write(b)
}

// classify names an error of the executions service as Step Functions
// would for the action.
func (h *Handler) classify(action string, err error) *apiError {
	msg := err.Error()
	// The service words the token's errors with Step Functions' names.
	for _, name := range []string{"TaskDoesNotExist", "TaskTimedOut"} {
		if m, ok := strings.CutPrefix(msg, name+": "); ok {
			return &apiError{name, m, http.StatusBadRequest}
		}
	}
	var def *executions.DefinitionError
	switch {
	case errors.As(err, &def):
		return &apiError{"InvalidDefinition", strings.Join(def.Problems, "; "), http.StatusBadRequest}
	case errors.Is(err, store.ErrExists):
		if strings.Contains(action, "StateMachine") {
			return &apiError{"StateMachineAlreadyExists", msg, http.StatusBadRequest}
		}
		return &apiError{"ExecutionAlreadyExists", msg, http.StatusBadRequest}
	case errors.Is(err, store.ErrNotFound):
		if strings.Contains(action, "StateMachine") || strings.HasPrefix(action, "Start") || action == "ListExecutions" {
			return &apiError{"StateMachineDoesNotExist", msg, http.StatusBadRequest}
		}
		return &apiError{"ExecutionDoesNotExist", msg, http.StatusBadRequest}
	case errors.Is(err, executions.ErrInvalid):
		return validation("%s", msg)
	}
	return h.internal(action, err)
}

func (h *Handler) internal(action string, err error) *apiError {
	if h.Log != nil {
		h.Log.Error("step functions action failed", "action", action, "err", err)
	}
	return &apiError{"InternalServerError", "the action failed; the server's log says why", http.StatusInternalServerError}
}

// checkARN refuses what is not an ARN of the kind asked, as Step
// Functions' InvalidArn.
func checkARN(arn, kind string) error {
	parts := strings.Split(arn, ":")
	if len(parts) < 7 || parts[0] != "arn" || parts[2] != "states" || parts[5] != kind {
		return &apiError{"InvalidArn", fmt.Sprintf("invalid %s ARN: %q", kind, arn), http.StatusBadRequest}
	}
	return nil
}
