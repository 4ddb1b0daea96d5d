package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/access"
	"github.com/velocity-ci/velocity/internal/server"
	"github.com/velocity-ci/velocity/internal/store/sqlite"
)

// smallGuard is a guard over a mux of a few routes that answer with the
// name of the token they were let through with, and tokens of each role
// kept in SQLite.
type smallGuard struct {
	h       http.Handler
	st      *sqlite.Store
	secrets map[access.Role]string
	log     *syncBuffer
}

func newSmallGuard(t *testing.T, g *server.Guard) *smallGuard {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "velocity.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sg := &smallGuard{st: st, secrets: map[access.Role]string{}, log: &syncBuffer{}}
	g.Access = access.New(access.Config{Store: st})
	g.Logger = slog.New(slog.NewTextHandler(sg.log, nil))
	for _, role := range []access.Role{access.Viewer, access.Developer, access.Admin} {
		secret, err := g.Access.Create(context.Background(), string(role)+"-token", role)
		if err != nil {
			t.Fatal(err)
		}
		sg.secrets[role] = secret
	}
	mux := http.NewServeMux()
	who := func(w http.ResponseWriter, r *http.Request) {
		tok, _ := server.TokenOf(r.Context())
		io.WriteString(w, "hello "+tok.Name)
	}
	for _, p := range []string{"GET /read", "POST /act", "POST /unlisted", "POST /hook"} {
		mux.HandleFunc(p, who)
	}
	sg.h = g.Wrap(mux)
	return sg
}

func (sg *smallGuard) do(t *testing.T, method, path string, set func(*http.Request)) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	if set != nil {
		set(r)
	}
	w := httptest.NewRecorder()
	sg.h.ServeHTTP(w, r)
	return w
}

func bearer(secret string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+secret) }
}

var smallRoles = map[string]access.Role{
	"GET /read":  access.Viewer,
	"POST /act":  access.Developer,
	"POST /hook": server.Public,
}

// A route the role map does not name needs admin: a new route is closed
// until it says who may use it.
func TestGuardUnlistedRouteNeedsAdmin(t *testing.T) {
	sg := newSmallGuard(t, &server.Guard{Roles: smallRoles})
	for role, want := range map[access.Role]int{access.Viewer: 403, access.Developer: 403, access.Admin: 200} {
		if w := sg.do(t, "POST", "/unlisted", bearer(sg.secrets[role])); w.Code != want {
			t.Errorf("an unlisted route as %s: %d %s, want %d", role, w.Code, w.Body, want)
		}
	}
	// Each role does what it is given and what is below it, no more.
	for _, c := range []struct {
		role         access.Role
		method, path string
		want         int
	}{
		{access.Viewer, "GET", "/read", 200},
		{access.Viewer, "POST", "/act", 403},
		{access.Developer, "POST", "/act", 200},
		{access.Admin, "POST", "/act", 200},
	} {
		w := sg.do(t, c.method, c.path, bearer(sg.secrets[c.role]))
		if w.Code != c.want {
			t.Errorf("%s %s as %s: %d %s, want %d", c.method, c.path, c.role, w.Code, w.Body, c.want)
		}
		if c.want == 200 && w.Body.String() != "hello "+string(c.role)+"-token" {
			t.Errorf("%s %s as %s: the handler saw %q", c.method, c.path, c.role, w.Body)
		}
	}
	if w := sg.do(t, "POST", "/act", bearer(sg.secrets[access.Viewer])); !strings.Contains(w.Body.String(), "POST /act needs developer") {
		t.Errorf("a viewer refused: %s; want the request and the role it needs named", w.Body)
	}
}

// A public route is served without a token, as is; a route that needs a
// token is challenged for both the bearer and the basic scheme (git
// answers only the latter).
func TestGuardPublicRouteAndChallenge(t *testing.T) {
	sg := newSmallGuard(t, &server.Guard{Roles: smallRoles})
	if w := sg.do(t, "POST", "/hook", nil); w.Code != 200 || w.Body.String() != "hello " {
		t.Errorf("a public route without a token: %d %q", w.Code, w.Body)
	}
	w := sg.do(t, "GET", "/read", nil)
	got := strings.Join(w.Header().Values("WWW-Authenticate"), ", ")
	if w.Code != 401 || got != `Bearer realm="velocity", Basic realm="velocity"` {
		t.Errorf("no token: %d, WWW-Authenticate %q", w.Code, got)
	}
	if w := sg.do(t, "GET", "/read", bearer(sg.secrets[access.Viewer]+"x")); w.Code != 401 {
		t.Errorf("a wrong token: %d", w.Code)
	}
	if w := sg.do(t, "POST", "/act", bearer(sg.secrets[access.Viewer])); w.Code != 403 || w.Header().Get("WWW-Authenticate") != "" {
		t.Errorf("a low role: %d, challenged %q; a valid token is not asked for again", w.Code, w.Header().Get("WWW-Authenticate"))
	}
}

// The scheme is case-insensitive (RFC 9110) and space around the token
// does not matter; an AWS signature's Credential may come after other
// parameters.
func TestGuardReadsTheTokenLeniently(t *testing.T) {
	sg := newSmallGuard(t, &server.Guard{Roles: smallRoles})
	secret := sg.secrets[access.Viewer]
	for name, h := range map[string]string{
		"lower case":   "bearer " + secret,
		"upper case":   "BEARER " + secret,
		"padded":       "Bearer   " + secret + " ",
		"aws reversed": "AWS4-HMAC-SHA256 SignedHeaders=host, Credential=" + secret + "/20261207/eu-west-1/states/aws4_request, Signature=00",
	} {
		if w := sg.do(t, "GET", "/read", func(r *http.Request) { r.Header.Set("Authorization", h) }); w.Code != 200 {
			t.Errorf("%s: %d %s", name, w.Code, w.Body)
		}
	}
	for name, h := range map[string]string{
		"no scheme":         secret,
		"aws no credential": "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=" + secret,
	} {
		if w := sg.do(t, "GET", "/read", func(r *http.Request) { r.Header.Set("Authorization", h) }); w.Code != 401 {
			t.Errorf("%s: %d, want 401", name, w.Code)
		}
	}
}

// Retry-After is in whole seconds, rounded up, so a client that waits
// that long is let in.
func TestGuardRetryAfterRoundsUp(t *testing.T) {
	now := time.Unix(0, 0)
	clock := func() time.Time { return now }
	sg := newSmallGuard(t, &server.Guard{Roles: smallRoles,
		Limiter:       &access.Limiter{Rate: 0.4, Burst: 1, Now: clock},
		PublicLimiter: &access.Limiter{Rate: 0.4, Burst: 1, Now: clock}})
	addr := func(r *http.Request) { r.RemoteAddr = "192.0.2.1" } // no port: as some proxies set it
	for name, req := range map[string]func() *httptest.ResponseRecorder{
		"token":  func() *httptest.ResponseRecorder { return sg.do(t, "GET", "/read", bearer(sg.secrets[access.Viewer])) },
		"public": func() *httptest.ResponseRecorder { return sg.do(t, "POST", "/hook", addr) },
	} {
		if w := req(); w.Code != 200 {
			t.Fatalf("%s: first request %d", name, w.Code)
		}
		if w := req(); w.Code != 429 || w.Header().Get("Retry-After") != "3" {
			t.Errorf("%s: over the rate %d, Retry-After %q; want 429, 3 (2.5s rounded up)", name, w.Code, w.Header().Get("Retry-After"))
		}
	}
	if log := sg.log.String(); !strings.Contains(log, `status=429 token="" method=POST route="POST /hook"`) {
		t.Errorf("the public refusal is not logged by its route:\n%s", log)
	}
}

// When the tokens cannot be read the guard answers 500 without the
// store's error, which goes to the log; a refusal in an API's own shape
// is told the same.
func TestGuardStoreFailureIsInternal(t *testing.T) {
	g := &server.Guard{Roles: smallRoles}
	sg := newSmallGuard(t, g)
	sg.st.Close()
	w := sg.do(t, "GET", "/read", bearer(sg.secrets[access.Viewer]))
	if w.Code != 500 || !strings.Contains(w.Body.String(), "internal error") || strings.Contains(w.Body.String(), "sql") {
		t.Errorf("store closed: %d %s", w.Code, w.Body)
	}
	var code int
	var msg string
	api := g.WrapAPI(http.NotFoundHandler(), func(*http.Request) (string, access.Role) { return "", access.Viewer },
		func(w http.ResponseWriter, c int, err error) { code, msg = c, err.Error() })
	r := httptest.NewRequest("POST", "/aws/path", nil)
	bearer(sg.secrets[access.Viewer])(r)
	api.ServeHTTP(httptest.NewRecorder(), r)
	if code != 500 || !strings.Contains(msg, "internal error") || strings.Contains(msg, "sql") {
		t.Errorf("store closed, refused in the API's shape: %d %q", code, msg)
	}
	if log := sg.log.String(); !strings.Contains(log, `route=/aws/path`) {
		t.Errorf("a refusal without a route name is not logged by its path:\n%s", log)
	}
}
