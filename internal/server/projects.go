package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/velocity-ci/velocity/internal/fault"
	"github.com/velocity-ci/velocity/internal/projects"
	"github.com/velocity-ci/velocity/internal/trigger"
)

// Routes of the projects API and of the forges' webhooks.
const (
	pathProjects    = "/api/v1/projects"
	pathProject     = "/api/v1/projects/{name}"
	pathProjectRuns = "/api/v1/projects/{name}/runs"
	pathHook        = "/hooks/{provider}/{name}"
)

// Projects serves the projects API over the projects service: add,
// list, show and remove projects, list a project's runs and queue one
// by hand; and the webhooks of GitHub, GitLab and Gitea/Forgejo.
type Projects struct {
	Service *projects.Service
	Logger  *slog.Logger
}

// Register adds the projects API's routes and the webhook route to mux.
func (h *Projects) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET "+pathProjects, h.handleList)
	mux.HandleFunc("POST "+pathProjects, h.handleAdd)
	mux.HandleFunc("GET "+pathProject, h.handleShow)
	mux.HandleFunc("DELETE "+pathProject, h.handleRemove)
	mux.HandleFunc("GET "+pathProjectRuns, h.handleRuns)
	mux.HandleFunc("POST "+pathProjectRuns, h.handleTrigger)
	mux.HandleFunc("POST "+pathHook, h.handleHook)
}

func (h *Projects) log() *slog.Logger { return orDiscard(h.Logger) }

func (h *Projects) fail(w http.ResponseWriter, r *http.Request, err error) {
	writeError(w, h.log(), r, err)
}

func (h *Projects) handleList(w http.ResponseWriter, r *http.Request) {
	list, err := h.Service.List(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if list == nil {
		list = []projects.Project{}
	}
	writeJSON(w, http.StatusOK, list)
}

func (h *Projects) handleAdd(w http.ResponseWriter, r *http.Request) {
	var req projects.AddRequest
	if err := decodeBody(w, r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	p, err := h.Service.Add(r.Context(), req)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, p)
}

func (h *Projects) handleShow(w http.ResponseWriter, r *http.Request) {
	d, err := h.Service.Show(r.Context(), r.PathValue("name"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (h *Projects) handleRemove(w http.ResponseWriter, r *http.Request) {
	if err := h.Service.Remove(r.Context(), r.PathValue("name")); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleRuns lists a project's recent runs, newest first, and the
// requests waiting in its queue.
func (h *Projects) handleRuns(w http.ResponseWriter, r *http.Request) {
	d, err := h.Service.Show(r.Context(), r.PathValue("name"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d.Runs)
}

// handleTrigger queues a run of the project at the ref of the body ({}
// or no body: the project's branch), recorded as started by the token.
func (h *Projects) handleTrigger(w http.ResponseWriter, r *http.Request) {
	var req projects.TriggerRequest
	if err := decodeBody(w, r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	req.Trigger = "manual"
	if tok, ok := TokenOf(r.Context()); ok {
		req.Trigger = "manual by token " + tok.Name
	}
	q, err := h.Service.Trigger(r.Context(), r.PathValue("name"), req)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, q)
}

// handleHook answers a forge's webhook. The request is in the store
// before the answer is a 2xx, so a delivery the forge saw accepted is
// never lost; the forge retries what got 5xx.
func (h *Projects) handleHook(w http.ResponseWriter, r *http.Request) {
	provider := trigger.Provider(r.PathValue("provider"))
	switch provider {
	case trigger.GitHub, trigger.GitLab, trigger.Gitea:
	case "forgejo":
		provider = trigger.Gitea
	default:
		h.fail(w, r, fault.NotFoundf("no webhook for %q: use /hooks/github/NAME, /hooks/gitlab/NAME or /hooks/gitea/NAME", provider))
		return
	}
	body, err := trigger.ReadBody(http.MaxBytesReader(w, r.Body, trigger.MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeJSON(w, http.StatusRequestEntityTooLarge, errorBody{Error: fmt.Sprintf("webhook body is larger than %d bytes", trigger.MaxBody)})
			return
		}
		h.fail(w, r, err)
		return
	}
	res, err := h.Service.Webhook(r.Context(), provider, r.PathValue("name"), r.Header, body)
	if err != nil {
		if fault.KindOf(err) == fault.Unauthorised {
			h.log().Warn("webhook refused", "provider", provider, "project", r.PathValue("name"), "remote", r.RemoteAddr, "reason", err.Error())
		}
		h.fail(w, r, err)
		return
	}
	code := http.StatusAccepted
	if res.Outcome == projects.Duplicate || res.Outcome == projects.Pong {
		code = http.StatusOK
	}
	writeJSON(w, code, res)
}

// decodeBody reads a small JSON body into v; an empty body leaves v as
// it is.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(v)
	if err == nil || errors.Is(err, io.EOF) {
		return nil
	}
	return fmt.Errorf("%w: request body: %v", ErrInvalid, err)
}
