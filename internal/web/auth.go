package web

import (
	"net/http"

	"github.com/velocity-ci/velocity/internal/access"
)

// authRoutes serves /login (a form with a token field) and /logout.
// TODO: built next.
func (s *Site) authRoutes(mux *http.ServeMux) {}

// withSession admits requests with a valid session cookie and sends the
// others to /login (the login page and static files need none).
// TODO: built next.
func (s *Site) withSession(next http.Handler) http.Handler { return next }

// user is the token of r's session.
// TODO: built next.
func (s *Site) user(r *http.Request) (access.Token, bool) { return access.Token{}, false }

// csrfToken is the CSRF token of r's session, for forms.
// TODO: built next.
func (s *Site) csrfToken(r *http.Request) string { return "" }

// action wraps the handler of a form's POST: it needs the session's role
// to be at least role and the form's CSRF token to match; otherwise 403.
// TODO: built next.
func (s *Site) action(role access.Role, h http.HandlerFunc) http.HandlerFunc { return h }
