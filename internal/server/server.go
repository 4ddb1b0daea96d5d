package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"

	"github.com/velocity-ci/velocity/internal/fault"
	"github.com/velocity-ci/velocity/internal/releases"
)

// Server answers the control API's requests with the releases service
// of the host it runs in. Set the fields, then serve Handler.
type Server struct {
	Releases *releases.Service
	// Runs, when set, serves the runs API (runs.go) beside the releases'.
	Runs *Runs
	// Projects, when set, serves the projects API and the webhooks.
	Projects *Projects
	// Dora, when set, serves the projects' DORA four keys.
	Dora *Dora
	// Nodes, when set, serves the list of nodes sharing the store.
	Nodes  *Nodes
	Logger *slog.Logger
	// Shutdown is called by a shutdown request; nil refuses them.
	Shutdown func()
}

// Handler routes the control API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+pathStatus, s.handleStatus)
	mux.HandleFunc("POST "+pathDeploy, s.handleDeploy)
	mux.HandleFunc("POST "+pathRollback, s.handleRollback)
	mux.HandleFunc("GET "+pathReleases, s.handleReleases)
	mux.HandleFunc("POST "+pathShutdown, s.handleShutdown)
	if s.Runs != nil {
		s.Runs.Register(mux)
	}
	if s.Projects != nil {
		s.Projects.Register(mux)
	}
	if s.Dora != nil {
		s.Dora.Register(mux)
	}
	if s.Nodes != nil {
		s.Nodes.Register(mux)
	}
	return mux
}

func (s *Server) log() *slog.Logger { return orDiscard(s.Logger) }

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Releases.Status())
}

func (s *Server) handleReleases(w http.ResponseWriter, r *http.Request) {
	out, err := s.Releases.Releases(r.Context(), r.URL.Query().Get("environment"), r.URL.Query().Get("service"))
	if err != nil {
		writeError(w, s.log(), r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleShutdown(w http.ResponseWriter, r *http.Request) {
	if s.Shutdown == nil {
		writeError(w, s.log(), r, fault.Conflictf("this server cannot be shut down through its API"))
		return
	}
	writeJSON(w, http.StatusAccepted, struct{}{})
	go s.Shutdown()
}

func (s *Server) handleDeploy(w http.ResponseWriter, r *http.Request) {
	var req DeployRequest
	if err := decode(r, &req); err != nil {
		writeError(w, s.log(), r, err)
		return
	}
	s.stream(w, r, func(ctx context.Context, log io.Writer) (DeployResult, error) {
		return s.Releases.Deploy(ctx, req, log)
	})
}

func (s *Server) handleRollback(w http.ResponseWriter, r *http.Request) {
	var req RollbackRequest
	if err := decode(r, &req); err != nil {
		writeError(w, s.log(), r, err)
		return
	}
	s.stream(w, r, func(ctx context.Context, log io.Writer) (DeployResult, error) {
		return s.Releases.Rollback(ctx, req, log)
	})
}

func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 16<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fault.Invalidf("request body: %v", err)
	}
	return nil
}

// stream runs a deploy, answering with its progress lines as they come
// and its outcome last. An error before the first line (a bad request,
// nothing to roll back to) still gets its own HTTP status.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, run func(context.Context, io.Writer) (DeployResult, error)) {
	ew := &eventWriter{w: w, rc: http.NewResponseController(w)}
	res, err := run(r.Context(), ew)
	ew.mu.Lock()
	defer ew.mu.Unlock()
	if err != nil {
		if !ew.started {
			writeError(w, s.log(), r, err)
			return
		}
		ew.send(Event{Error: err.Error()})
		return
	}
	ew.send(Event{Result: &res})
}

// eventWriter turns a deploy's log writes into events, flushed at once.
type eventWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	mu      sync.Mutex
	started bool
}

func (e *eventWriter) Write(p []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.send(Event{Log: string(p)}); err != nil {
		return 0, err
	}
	return len(p), nil
}

// send writes one event; e.mu is held.
func (e *eventWriter) send(ev Event) error {
	if !e.started {
		e.started = true
		e.w.Header().Set("Content-Type", "application/x-ndjson")
		e.w.WriteHeader(http.StatusOK)
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("event: %w", err)
	}
	if _, err := e.w.Write(append(b, '\n')); err != nil {
		return err
	}
	return e.rc.Flush()
}
