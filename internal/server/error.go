package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/velocity-ci/velocity/internal/releases"
	"github.com/velocity-ci/velocity/internal/store"
)

// Error classes of the control API, wrapped by the errors handlers return.
// They are the releases service's, whose errors the handlers return.
var (
	// ErrInvalid: the request cannot be carried out as asked (a bad
	// field, a secret that is not set).
	ErrInvalid = releases.ErrInvalid
	// ErrConflict: the request is fine but the state does not allow it
	// (nothing to roll back to, the release is already live).
	ErrConflict = releases.ErrConflict
)

// statusOf is the one place errors become HTTP statuses.
func statusOf(err error) int {
	switch {
	case errors.Is(err, ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrConflict):
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}

// writeError answers with err's status. Users see what they can act on;
// an internal error's detail goes to the operator's log only.
func writeError(w http.ResponseWriter, log *slog.Logger, r *http.Request, err error) {
	code := statusOf(err)
	msg := err.Error()
	if code == http.StatusInternalServerError {
		log.Error("control API", "method", r.Method, "path", r.URL.Path, "err", err)
		msg = "internal error in velocity serve; its log has the details"
	}
	writeJSON(w, code, errorBody{Error: msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// Error is a failed request as the client sees it.
type Error struct {
	// Code is the HTTP status.
	Code    int
	Message string
}

func (e *Error) Error() string { return e.Message }

// Is lets callers test a client's error with the same classes the
// handlers use.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrInvalid:
		return e.Code == http.StatusBadRequest
	case store.ErrNotFound:
		return e.Code == http.StatusNotFound
	case ErrConflict:
		return e.Code == http.StatusConflict
	}
	return false
}

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
