package server

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/velocity-ci/velocity/internal/access"
	"github.com/velocity-ci/velocity/internal/fault"
)

// Public marks a route that checks its callers its own way (a webhook by
// its signature): the guard lets every request through to it. It is no
// role a token can have.
const Public access.Role = "public"

// RouteRoles is the role each route of the API needs, by the pattern the
// route is registered with. A route missing here needs admin: a new
// route is closed until it says who may use it.
func RouteRoles() map[string]access.Role {
	return map[string]access.Role{
		"GET " + pathStatus:       access.Viewer,
		"GET " + pathReleases:     access.Viewer,
		"POST " + pathDeploy:      access.Developer,
		"POST " + pathRollback:    access.Developer,
		"POST " + pathShutdown:    access.Admin,
		"POST " + pathRuns:        access.Developer,
		"GET " + pathRunEvents:    access.Viewer,
		"POST " + pathRunCancel:   access.Developer,
		"POST " + pathRunApprove:  access.Developer,
		"GET " + pathProjects:     access.Viewer,
		"POST " + pathProjects:    access.Admin,
		"GET " + pathProject:      access.Viewer,
		"DELETE " + pathProject:   access.Admin,
		"GET " + pathProjectRuns:  access.Viewer,
		"POST " + pathProjectRuns: access.Developer,
		"GET " + pathProjectDora:  access.Viewer,
		"POST " + pathHook:        Public,
		"GET " + pathRuns:         access.Viewer,
		"GET " + pathRun:          access.Viewer,
		"POST " + pathRunRerun:    access.Developer,
		"GET " + pathNodes:        access.Viewer,
	}
}

// Guard lets through to its routes only the requests that present a
// token whose role the route needs (see RouteRoles), at most as often as
// the limiter allows each token. It is for the network listener; the
// control socket, private to the data directory's owner by its mode,
// needs none.
//
// A token comes as 'Authorization: Bearer SECRET', or as the password of
// HTTP basic auth (what git sends to a remote). The answers: 401 without
// a valid token, 403 when its role is too low, 429 over its rate. Each
// refusal is logged with the token's name and the route, never the
// secret.
type Guard struct {
	Access *access.Service
	// Limiter limits each token's requests; nil limits none.
	Limiter *access.Limiter
	// PublicLimiter limits the requests of each remote address to the
	// public routes (webhooks), which carry no token to count by: a
	// flood of forged deliveries costs an HMAC each. nil limits none.
	PublicLimiter *access.Limiter
	// Roles maps route patterns to the role they need; nil is
	// RouteRoles().
	Roles  map[string]access.Role
	Logger *slog.Logger
}

// Wrap returns mux behind the guard. The route a request is for, and so
// the role it needs, is the pattern mux would serve it with; a request
// that matches no route still needs a valid token before it learns so.
func (g *Guard) Wrap(mux *http.ServeMux) http.Handler {
	roles := g.Roles
	if roles == nil {
		roles = RouteRoles()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pattern := mux.Handler(r)
		need, known := roles[pattern]
		switch {
		case pattern == "":
			need = access.Viewer // no route: 404 or 405, to authenticated callers only
		case !known:
			need = access.Admin
		case need == Public:
			if ok, wait := g.PublicLimiter.Allow("addr " + remoteHost(r)); !ok {
				w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
				g.refuse(w, r, pattern, access.Token{}, errTooMany, nil)
				return
			}
			mux.ServeHTTP(w, r)
			return
		}
		if r, ok := g.admit(w, r, pattern, r.Method+" "+r.URL.Path, need, nil); ok {
			mux.ServeHTTP(w, r)
		}
	})
}

// Refusal answers a request the guard refuses, with the HTTP status
// code and why; an API with an error shape of its own (AWS's) answers
// in it, so that its clients understand.
type Refusal func(w http.ResponseWriter, code int, err error)

// WrapAPI returns h behind the guard for an API that is not routed by
// path (AWS's, which names its actions in a header): need names the
// route a request is for (in logs) and the role it needs, refuse
// answers refusals.
func (g *Guard) WrapAPI(h http.Handler, need func(*http.Request) (string, access.Role), refuse Refusal) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route, role := need(r)
		if r, ok := g.admit(w, r, route, route, role, refuse); ok {
			h.ServeHTTP(w, r)
		}
	})
}

// admit checks r's token for a route that needs role need (what names
// the request in a refusal): it returns
// r carrying the token, or answers the refusal and false.
func (g *Guard) admit(w http.ResponseWriter, r *http.Request, route, what string, need access.Role, refuse Refusal) (*http.Request, bool) {
	tok, err := g.Access.Authenticate(r.Context(), presented(r))
	if err != nil {
		g.refuse(w, r, route, tok, err, refuse)
		return nil, false
	}
	if ok, wait := g.Limiter.Allow(tok.Name); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		g.refuse(w, r, route, tok, errTooMany, refuse)
		return nil, false
	}
	if !access.Allow(tok.Role, need) {
		g.refuse(w, r, route, tok, fault.Forbiddenf("token %s has role %s; %s needs %s", tok.Name, tok.Role, what, need), refuse)
		return nil, false
	}
	return r.WithContext(context.WithValue(r.Context(), tokenKey{}, tok)), true
}

// errTooMany is a request over its token's rate; it has no kind of its
// own, being the guard's alone.
var errTooMany = errors.New("too many requests for this token; retry after the time in Retry-After")

func (g *Guard) refuse(w http.ResponseWriter, r *http.Request, route string, tok access.Token, err error, answer Refusal) {
	code := StatusOf(err)
	if errors.Is(err, errTooMany) {
		code = http.StatusTooManyRequests
	}
	if route == "" {
		route = r.URL.Path
	}
	log := orDiscard(g.Logger)
	// git and docker ask without credentials first on every clone, push
	// and pull, and send the token only when refused: that first refusal
	// is routine.
	level := slog.LevelWarn
	if code == http.StatusUnauthorized && r.Header.Get("Authorization") == "" && (strings.HasPrefix(route, "git ") || strings.HasPrefix(route, "registry ")) {
		level = slog.LevelInfo
	}
	log.Log(r.Context(), level, "API request refused", "status", code, "token", tok.Name, "method", r.Method, "route", route,
		"remote", r.RemoteAddr, "reason", err.Error())
	if answer != nil {
		if code == http.StatusInternalServerError {
			log.Error("API request failed", "route", route, "err", err)
			err = errors.New("internal error in velocity serve; its log has the details")
		}
		answer(w, code, err)
		return
	}
	if code == http.StatusUnauthorized {
		w.Header().Add("WWW-Authenticate", `Bearer realm="velocity"`)
		w.Header().Add("WWW-Authenticate", `Basic realm="velocity"`)
	}
	if code == http.StatusInternalServerError {
		writeError(w, log, r, err)
		return
	}
	writeJSON(w, code, errorBody{Error: err.Error()})
}

// presented is the secret a request carries: a bearer token, the access
// key ID of an AWS signature (version 4), or else the password of basic
// auth.
//
// An AWS SDK or CLI signs its requests with a secret key both sides
// know; the server keeps only the hashes of its tokens, so it cannot
// compute the signature to compare. The token is the access key ID
// instead, any secret key signs, and the signature is not checked: the
// token proves the caller as a bearer token does, and like one it needs
// TLS to cross a network unread.
func presented(r *http.Request) string {
	h := r.Header.Get("Authorization")
	scheme, rest, ok := strings.Cut(h, " ")
	if ok && strings.EqualFold(scheme, "Bearer") {
		return strings.TrimSpace(rest)
	}
	if ok && scheme == "AWS4-HMAC-SHA256" {
		return accessKeyID(rest)
	}
	if _, password, ok := r.BasicAuth(); ok {
		return password
	}
	return ""
}

// accessKeyID is the access key ID of an AWS signature's parameters
// (Credential=AKID/DATE/REGION/SERVICE/aws4_request, SignedHeaders=…,
// Signature=…), "" without one.
func accessKeyID(params string) string {
	for p := range strings.SplitSeq(params, ",") {
		if cred, ok := strings.CutPrefix(strings.TrimSpace(p), "Credential="); ok {
			id, _, _ := strings.Cut(cred, "/")
			return id
		}
	}
	return ""
}

type tokenKey struct{}

// remoteHost is the address a request came from, without its port.
func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// TokenOf returns the token that authenticated r, when the guard let it
// through; a trigger records it as who started a run.
func TokenOf(ctx context.Context) (access.Token, bool) {
	t, ok := ctx.Value(tokenKey{}).(access.Token)
	return t, ok
}
