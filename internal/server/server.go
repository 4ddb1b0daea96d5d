package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"

	"github.com/velocity-ci/velocity/internal/deploy"
	"github.com/velocity-ci/velocity/internal/store"
)

// Secrets gives instances the secrets their service lists. Get is called
// once per deploy and secret, from the handler's goroutine.
type Secrets interface {
	Get(name string) ([]byte, error)
}

// Server carries out the control API's requests. Set the fields, then
// serve Handler; Recover once before that.
type Server struct {
	Deployer *deploy.Deployer
	Journal  store.Deployments
	Secrets  Secrets
	// Env returns the instances' base environment for a pipeline's
	// env_passthrough (the server's own host variables, filtered).
	Env     func(passthrough []string) []string
	Logger  *slog.Logger
	Version string
	// Shutdown is called by a shutdown request; nil refuses them.
	Shutdown func()

	mu    sync.Mutex
	locks map[string]*sync.Mutex // by "env/service": one journal+deploy at a time
}

// Handler routes the control API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+pathStatus, s.handleStatus)
	mux.HandleFunc("POST "+pathDeploy, s.handleDeploy)
	mux.HandleFunc("POST "+pathRollback, s.handleRollback)
	mux.HandleFunc("GET "+pathReleases, s.handleReleases)
	mux.HandleFunc("POST "+pathShutdown, s.handleShutdown)
	return mux
}

func (s *Server) log() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// lock serialises journal writes and deploys of one service in one
// environment, so the journal's order is the order things happened.
func (s *Server) lock(env, service string) func() {
	s.mu.Lock()
	if s.locks == nil {
		s.locks = map[string]*sync.Mutex{}
	}
	key := env + "/" + service
	m := s.locks[key]
	if m == nil {
		m = &sync.Mutex{}
		s.locks[key] = m
	}
	s.mu.Unlock()
	m.Lock()
	return m.Unlock
}

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, Status{
		Version: s.Version, ProxyURL: s.Deployer.ProxyURL, Pid: os.Getpid(), Services: s.Deployer.Statuses(),
	})
}

func (s *Server) handleReleases(w http.ResponseWriter, r *http.Request) {
	env, svc := r.URL.Query().Get("environment"), r.URL.Query().Get("service")
	if env == "" || svc == "" {
		writeError(w, s.log(), r, invalid("environment and service are required"))
		return
	}
	ds, err := s.Journal.Deployments(r.Context(), env, svc)
	if err != nil {
		writeError(w, s.log(), r, err)
		return
	}
	out := make([]Release, 0, len(ds))
	for _, d := range ds {
		out = append(out, releaseOf(d))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleShutdown(w http.ResponseWriter, r *http.Request) {
	if s.Shutdown == nil {
		writeError(w, s.log(), r, conflict("this server cannot be shut down through its API"))
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
		return s.deploy(ctx, req, log)
	})
}

func (s *Server) handleRollback(w http.ResponseWriter, r *http.Request) {
	var req RollbackRequest
	if err := decode(r, &req); err != nil {
		writeError(w, s.log(), r, err)
		return
	}
	s.stream(w, r, func(ctx context.Context, log io.Writer) (DeployResult, error) {
		return s.rollback(ctx, req, log)
	})
}

func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 16<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return invalid("request body: %v", err)
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
