// Package web is the web UI of velocity serve: server-rendered pages
// (html/template, embedded assets, a few kilobytes of JavaScript that
// only add live updates), over the same application services as the API.
// Every page is readable without JavaScript; live parts use server-sent
// events. People log in with an API token; its role decides what the
// pages let them do, as in the API.
package web

import (
	"embed"
	"log/slog"
	"net/http"

	"github.com/velocity-ci/velocity/internal/access"
	"github.com/velocity-ci/velocity/internal/dora"
	"github.com/velocity-ci/velocity/internal/executions"
	"github.com/velocity-ci/velocity/internal/projects"
	"github.com/velocity-ci/velocity/internal/releases"
	"github.com/velocity-ci/velocity/internal/runs"
)

//go:embed templates static
var files embed.FS

// Site is the web UI over the services of one server. Set the fields,
// then serve Handler. A nil service leaves its pages out of the
// navigation and answers them 404.
type Site struct {
	Runs       *runs.Service
	Projects   *projects.Service
	Releases   *releases.Service
	Catalog    *releases.Catalog
	Executions *executions.Service
	Access     *access.Service
	Dora       *dora.Service
	// Key signs session cookies and CSRF tokens: at least 32 random
	// bytes kept in the data directory, so that sessions outlive a
	// restart.
	Key []byte
	// Secure marks the session cookie Secure (the listener serves TLS).
	Secure bool
	Log    *slog.Logger

	// logins counts failed logins per address; Handler makes it.
	logins *throttle
	// pages holds the parsed templates; Handler makes it.
	pages *pages
	// ended holds the sessions logged out before their expiry.
	ended endedSessions
}

// Handler routes the web UI. Each page's file registers its own routes.
func (s *Site) Handler() http.Handler {
	mux := http.NewServeMux()
	s.logins = newThrottle()
	s.pages = newPages()
	mux.Handle("GET /static/", http.FileServerFS(files))
	s.authRoutes(mux)      // auth.go: /login, /logout
	s.dashboardRoutes(mux) // dashboard.go: /, /badge/NAME.svg
	s.runRoutes(mux)       // run.go: /runs/N, its events, its buttons
	s.deployRoutes(mux)    // deploys.go: /deployments, rollback
	s.executionRoutes(mux) // executions.go: /executions, /executions/ID
	s.doraRoutes(mux)      // dora.go: /dora, /projects/NAME/dora
	return s.withSession(mux)
}

func (s *Site) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}
