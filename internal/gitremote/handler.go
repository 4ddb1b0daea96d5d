// Package gitremote is the built-in git remote: git's smart HTTP protocol
// at /git/NAME.git/…, so that `git push http://HOST/git/NAME.git main`
// stores commits in a project's mirror and starts its run, and `git
// clone` reads them back.
//
// The protocol is git's own: each request runs `git http-backend` (a CGI
// program) through package proc, with a small CGI bridge written here
// rather than net/http/cgi, which would start the process outside proc.
// Only the smart protocol's three requests are served (info/refs with a
// service, git-upload-pack, git-receive-pack); the dumb protocol's file
// reads are not.
//
// Who may do what is the guard's business: the handler serves every
// request it is given. Wired as
//
//	remote := &gitremote.Handler{Repo: mirrors.Find, Pushed: …, Log: log}
//	guarded := guard.WrapAPI(remote, gitremote.RoleOf, gitremote.Refuse)
//
// and routed by Match, outside the API's body limit (MaxPush is its own)
// and deadlines (Timeout). Refuse matters: on 401 it sends the Basic
// challenge without which git never sends the token in the remote's URL.
package gitremote

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/velocity-ci/velocity/internal/fault"
	"github.com/velocity-ci/velocity/internal/server"
)

// MaxPush is the largest request body accepted, compressed as it comes:
// a push of a big repository's history. The API's own body limit is far
// smaller and must not apply to the git remote.
const MaxPush = 1 << 30

// Timeout bounds a request's git process, and the connection's read and
// write deadlines for that request: 1 GiB at 1 MB/s takes 17 minutes.
const Timeout = time.Hour

// pushedTimeout bounds the call to Pushed, which records the push and
// must not hang a client whose commits are already stored.
const pushedTimeout = time.Minute

// RefUpdate is one ref a push changed. Before is all zeros when the push
// created the ref, After when it deleted it, as git reports them.
type RefUpdate struct{ Ref, Before, After string }

// Handler serves the git remote of the repositories Repo finds.
type Handler struct {
	// Repo returns the directory of project name's bare repository;
	// fault.NotFound answers 404.
	Repo func(ctx context.Context, name string) (dir string, err error)
	// Pushed is told, after a successful push and before its client
	// learns that the push finished, which refs it changed; by is the
	// name of the token that pushed ("" without one). An error is logged:
	// the commits are stored whatever Pushed says.
	Pushed func(ctx context.Context, name, by string, updates []RefUpdate) error
	Log    *slog.Logger
}

func (h *Handler) log() *slog.Logger {
	if h.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Log
}

// ServeHTTP serves one request of git's smart HTTP protocol.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q, ok := parse(r.URL.Path, r.URL.Query())
	if !ok {
		http.Error(w, "not a git repository path: use /git/NAME.git", http.StatusNotFound)
		return
	}
	if r.Method != q.method() {
		w.Header().Set("Allow", q.method())
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	dir, err := h.Repo(r.Context(), q.name)
	switch {
	case errors.Is(err, fault.NotFound):
		http.Error(w, "no project "+q.name, http.StatusNotFound)
		return
	case errors.Is(err, fault.Invalid):
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	case err != nil:
		h.log().Error("git remote: find the repository", "project", q.name, "err", err)
		http.Error(w, "internal error; the server's log has the details", http.StatusInternalServerError)
		return
	}

	// A big push or clone outlasts the server's usual deadlines.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(Timeout))
	_ = rc.SetWriteDeadline(time.Now().Add(Timeout))
	ctx, cancel := context.WithTimeout(r.Context(), Timeout)
	defer cancel()

	by := ""
	if tok, ok := server.TokenOf(r.Context()); ok {
		by = tok.Name
	}
	c := cgi{dir: dir, tail: q.tail(), user: by}
	push := q.service == receivePack && !q.advertise
	var pushLog string
	if push {
		hooks, err := installHook(dir)
		if err != nil {
			h.log().Error("git remote: push", "project", q.name, "err", err)
			http.Error(w, "internal error; the server's log has the details", http.StatusInternalServerError)
			return
		}
		f, err := os.CreateTemp("", "velocity-push-*")
		if err != nil {
			h.log().Error("git remote: push", "project", q.name, "err", err)
			http.Error(w, "internal error; the server's log has the details", http.StatusInternalServerError)
			return
		}
		f.Close()
		pushLog = f.Name()
		defer os.Remove(pushLog)
		c.env = hookEnv(hooks, pushLog)
	}

	body := http.MaxBytesReader(w, r.Body, MaxPush)
	ok, err = c.serve(ctx, w, r, "service="+q.service, body)
	switch {
	case err != nil && r.Context().Err() != nil:
		h.log().Info("git remote: the client went away", "project", q.name, "service", q.service,
			"token", by, "remote", r.RemoteAddr)
	case err != nil:
		h.log().Warn("git remote: request failed", "project", q.name, "service", q.service,
			"token", by, "remote", r.RemoteAddr, "err", err)
	}
	if !ok || !push {
		return
	}
	updates, err := readPushLog(pushLog)
	if err != nil {
		h.log().Error("git remote: push", "project", q.name, "err", err)
		return
	}
	if len(updates) == 0 || h.Pushed == nil {
		return
	}
	h.log().Info("git remote: push", "project", q.name, "token", by, "refs", len(updates))
	// Recorded even if the client hangs up now: its commits are stored.
	pctx, pcancel := context.WithTimeout(context.WithoutCancel(r.Context()), pushedTimeout)
	defer pcancel()
	if err := h.Pushed(pctx, q.name, by, updates); err != nil {
		h.log().Error("git remote: act on a push", "project", q.name, "token", by, "err", err)
	}
}

// Refuse answers a request the guard refuses, as git shows it: plain
// text, which git prints as the remote's message, and on 401 the Basic
// challenge that makes git send (or ask for) the token as a password.
// Use it as server.Guard.WrapAPI's refusal.
func Refuse(w http.ResponseWriter, code int, err error) {
	if code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="velocity"`)
	}
	msg := http.StatusText(code)
	if err != nil && err.Error() != "" {
		msg = err.Error()
	}
	http.Error(w, msg, code)
}
