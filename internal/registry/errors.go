package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// Code is an error code of the distribution specification, which
// clients act on (a missing blob is uploaded, a missing name is not).
type Code string

// The specification's error codes.
const (
	CodeBlobUnknown         Code = "BLOB_UNKNOWN"
	CodeBlobUploadInvalid   Code = "BLOB_UPLOAD_INVALID"
	CodeBlobUploadUnknown   Code = "BLOB_UPLOAD_UNKNOWN"
	CodeDigestInvalid       Code = "DIGEST_INVALID"
	CodeManifestBlobUnknown Code = "MANIFEST_BLOB_UNKNOWN"
	CodeManifestInvalid     Code = "MANIFEST_INVALID"
	CodeManifestUnknown     Code = "MANIFEST_UNKNOWN"
	CodeNameInvalid         Code = "NAME_INVALID"
	CodeNameUnknown         Code = "NAME_UNKNOWN"
	CodeSizeInvalid         Code = "SIZE_INVALID"
	CodeUnauthorized        Code = "UNAUTHORIZED"
	CodeDenied              Code = "DENIED"
	CodeUnsupported         Code = "UNSUPPORTED"
	CodeTooManyRequests     Code = "TOOMANYREQUESTS"
)

// Error is a failure the API reports with its code and HTTP status. The
// message is for people; clients go by the code.
type Error struct {
	Status  int
	Code    Code
	Message string
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

func fail(status int, code Code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// errorBody is the specification's error document.
type errorBody struct {
	Errors []errorEntry `json:"errors"`
}

type errorEntry struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

// writeError answers err: an *Error as itself, anything else as a 500
// whose detail stays in the server's log.
func writeError(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Status: http.StatusInternalServerError, Code: "UNKNOWN", Message: "internal error; the server's log has the details"}
	}
	writeCode(w, e.Status, e.Code, e.Message)
}

func writeCode(w http.ResponseWriter, status int, code Code, msg string) {
	b, _ := json.Marshal(errorBody{Errors: []errorEntry{{Code: code, Message: msg}}})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}
