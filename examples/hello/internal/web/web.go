// Package web holds the hello service's HTTP handlers, apart from main so
// that they can be tested without starting a server.
package web

import (
	"fmt"
	"log/slog"
	"net/http"
)

// New returns the service's routes: GET / greets with the version, and
// GET /healthz answers "ok" for load balancers and smoke tests.
func New(version string, logger *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	// "{$}" matches "/" only; any other path is a 404 rather than a greeting.
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "hello from %s\n", version)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, "ok")
	})
	return logRequests(mux, logger)
}

// logRequests logs one line per request, with the status written.
func logRequests(next http.Handler, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		logger.Info("request", "method", r.Method, "path", r.URL.Path, "status", rec.status)
	})
}

// statusRecorder remembers the status code a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// Version picks the version to report: HELLO_VERSION from the environment
// when set, so that a deployment can label itself, else the one linked in
// at build time, else "dev".
func Version(env, linked string) string {
	switch {
	case env != "":
		return env
	case linked != "":
		return linked
	default:
		return "dev"
	}
}
