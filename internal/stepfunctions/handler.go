// Package stepfunctions serves the Step Functions API over AWS's JSON
// protocol (POST / with X-Amz-Target: AWSStepFunctions.ACTION), so that
// the AWS SDKs and CLI drive Velocity's state machines and executions
// unchanged. It only translates: the use cases are the executions
// package's.
package stepfunctions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/velocity-ci/velocity/internal/executions"
)

// maxBody bounds a request's body: an execution's input and a task's
// output are at most 256 KiB, a definition at most 1 MiB.
const maxBody = 2 << 20

// Handler answers the Step Functions API's actions.
type Handler struct {
	Executions    *executions.Service
	StateMachines *executions.StateMachines
	// Log gets the errors that are Velocity's, not the caller's.
	Log *slog.Logger
}

const targetPrefix = "AWSStepFunctions."

// action answers one action: it decodes its request from body and
// returns the response to encode.
type action func(h *Handler, ctx context.Context, body []byte) (any, error)

// actionNamed is the action of a target's name, nil for one not served.
func actionNamed(name string) action {
	switch name {
	case "CreateStateMachine":
		return (*Handler).createStateMachine
	case "DescribeStateMachine":
		return (*Handler).describeStateMachine
	case "ListStateMachines":
		return (*Handler).listStateMachines
	case "UpdateStateMachine":
		return (*Handler).updateStateMachine
	case "DeleteStateMachine":
		return (*Handler).deleteStateMachine
	case "ValidateStateMachineDefinition":
		return (*Handler).validateDefinition
	case "StartExecution":
		return (*Handler).startExecution
	case "StartSyncExecution":
		return (*Handler).startSyncExecution
	case "DescribeExecution":
		return (*Handler).describeExecution
	case "GetExecutionHistory":
		return (*Handler).getExecutionHistory
	case "ListExecutions":
		return (*Handler).listExecutions
	case "StopExecution":
		return (*Handler).stopExecution
	case "RedriveExecution":
		return (*Handler).redriveExecution
	case "SendTaskSuccess":
		return (*Handler).sendTaskSuccess
	case "SendTaskFailure":
		return (*Handler).sendTaskFailure
	case "SendTaskHeartbeat":
		return (*Handler).sendTaskHeartbeat
	case "TestState":
		return (*Handler).testState
	}
	return nil
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeError(w, &apiError{"UnknownOperationException", "the Step Functions API takes POST requests", http.StatusMethodNotAllowed})
		return
	}
	name, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	act := actionNamed(name)
	if !ok || act == nil {
		writeError(w, &apiError{"UnknownOperationException", fmt.Sprintf("unknown action %q", r.Header.Get("X-Amz-Target")), http.StatusBadRequest})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeError(w, validation("the request body is too large or unreadable: %v", err))
		return
	}
	if len(body) == 0 {
		body = []byte("{}")
	}
	out, err := act(h, r.Context(), body)
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			ae = h.classify(name, err)
		}
		writeError(w, ae)
		return
	}
	b, err := json.Marshal(out)
	if err != nil {
		writeError(w, h.internal(name, err))
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Write(b)
}

// decode reads an action's request, refusing what is not its JSON.
func decode(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return validation("the request body is not the action's JSON: %v", err)
	}
	return nil
}

// epoch is a time as AWS's JSON protocol writes it: seconds since the
// Unix epoch; the zero time is left out.
type epoch time.Time

func (t epoch) MarshalJSON() ([]byte, error) {
	return []byte(fmt.Sprintf("%.3f", float64(time.Time(t).UnixMilli())/1000)), nil
}

// when is t as a response's optional timestamp.
func when(t time.Time) *epoch {
	if t.IsZero() {
		return nil
	}
	e := epoch(t)
	return &e
}
