package server

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/velocity-ci/velocity/internal/artifact"
	"github.com/velocity-ci/velocity/internal/fault"
	"github.com/velocity-ci/velocity/internal/secret"
	"github.com/velocity-ci/velocity/internal/store"
)

// Every kind has its status, whichever layer the error comes from, and a
// client's error answers errors.Is with the kind it was sent for.
func TestStatusOfEachKind(t *testing.T) {
	for _, c := range []struct {
		err  error
		code int
	}{
		{fault.Invalidf("a deploy needs a release name"), http.StatusBadRequest},
		{fault.Invalidf("bad field"), http.StatusBadRequest},
		{fault.NotFoundf("no release r9"), http.StatusNotFound},
		{fmt.Errorf("run 7: %w", store.ErrNotFound), http.StatusNotFound},
		{fmt.Errorf("secret X: %w", secret.ErrNotFound), http.StatusNotFound},
		{fmt.Errorf("blob sha256:ab: %w", artifact.ErrNotFound), http.StatusNotFound},
		{fault.Conflictf("release r1 already serves"), http.StatusConflict},
		{fault.Unauthorisedf("no token"), http.StatusUnauthorized},
		{fault.Forbiddenf("viewers cannot deploy"), http.StatusForbidden},
		{fault.Unavailablef("the journal is busy"), http.StatusServiceUnavailable},
		// The kind closest to the user decides.
		{fault.Invalidf("release: %w", store.ErrNotFound), http.StatusBadRequest},
		{errors.New("disk full"), http.StatusInternalServerError},
	} {
		if got := StatusOf(c.err); got != c.code {
			t.Errorf("StatusOf(%q) = %d, want %d", c.err, got, c.code)
		}
		if c.code == http.StatusInternalServerError {
			continue
		}
		sent := &Error{Code: c.code, Message: c.err.Error()}
		if k := fault.KindOf(c.err); !errors.Is(sent, k) {
			t.Errorf("a client's %d error is not %v", c.code, k)
		}
		for _, other := range []*fault.Kind{fault.Invalid, fault.NotFound, fault.Conflict, fault.Unauthorised, fault.Forbidden, fault.Unavailable} {
			if other != fault.KindOf(c.err) && errors.Is(sent, other) {
				t.Errorf("a client's %d error is also %v", c.code, other)
			}
		}
	}
}
