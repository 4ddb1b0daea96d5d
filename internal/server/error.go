package server

import (
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/velocity-ci/velocity/internal/fault"
)

// Error classes of the control API, wrapped by the errors handlers return.
// They are the kinds of package fault, so that an error of any layer maps
// to the same status as the handlers' own.
var (
	// ErrInvalid: the request cannot be carried out as asked (a bad
	// field, a secret that is not set).
	ErrInvalid = fault.Invalid
	// ErrConflict: the request is fine but the state does not allow it
	// (nothing to roll back to, the release is already live).
	ErrConflict = fault.Conflict
)

// StatusOf is the one place errors become HTTP statuses: by the outermost
// kind of the error (see fault.KindOf); an error without a kind is an
// internal one.
func StatusOf(err error) int { return statusOfKind(fault.KindOf(err)) }

func statusOfKind(k *fault.Kind) int {
	switch k {
	case fault.Invalid:
		return http.StatusBadRequest
	case fault.NotFound:
		return http.StatusNotFound
	case fault.Conflict:
		return http.StatusConflict
	case fault.Unauthorised:
		return http.StatusUnauthorized
	case fault.Forbidden:
		return http.StatusForbidden
	case fault.Unavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// writeError answers with err's status. Users see what they can act on;
// an internal error's detail goes to the operator's log only.
func writeError(w http.ResponseWriter, log *slog.Logger, r *http.Request, err error) {
	code := StatusOf(err)
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

// Is lets callers test a client's error with the same kinds the handlers
// use: the kind whose status the server answered.
func (e *Error) Is(target error) bool {
	k, ok := target.(*fault.Kind)
	return ok && statusOfKind(k) == e.Code
}

// orDiscard is l, or a logger that drops everything when l is nil (a
// handler whose Logger was left unset).
func orDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}
