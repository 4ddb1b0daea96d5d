package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"strconv"

	"github.com/velocity-ci/velocity/internal/runs"
	"github.com/velocity-ci/velocity/internal/store"
)

// Routes of the runs API.
const (
	pathRuns       = "/api/v1/runs"
	pathRunEvents  = "/api/v1/runs/{id}/events"
	pathRunCancel  = "/api/v1/runs/{id}/cancel"
	pathRunApprove = "/api/v1/runs/{id}/approve"
	pathRun        = "/api/v1/runs/{id}"
	pathRunRerun   = "/api/v1/runs/{id}/rerun"
)

// Runs serves the runs API over a runs service: start a run, stream its
// events (server-sent events carrying the runs.Event JSON), cancel it,
// decide its approvals.
type Runs struct {
	Service *runs.Service
	Logger  *slog.Logger
	// Nodes, when set, finds the node executing a run that this one does
	// not: its live events and its cancel are passed to that node. Self
	// names this node to it.
	Nodes Locator
	Self  string
}

// StartedRun answers a request to start a run.
type StartedRun struct {
	ID int64 `json:"id"`
}

// CancelRequest asks to stop a run; Force skips its clean-up too.
type CancelRequest struct {
	Force bool `json:"force,omitempty"`
}

// ApproveRequest decides a stage's approval; Stage "" is the only stage
// that waits.
type ApproveRequest struct {
	Stage    string `json:"stage,omitempty"`
	Approved bool   `json:"approved"`
	By       string `json:"by"`
}

// Register adds the runs API's routes to mux.
func (h *Runs) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST "+pathRuns, h.handleStart)
	mux.HandleFunc("GET "+pathRunEvents, h.handleEvents)
	mux.HandleFunc("POST "+pathRunCancel, h.handleCancel)
	mux.HandleFunc("POST "+pathRunApprove, h.handleApprove)
	mux.HandleFunc("GET "+pathRuns, h.handleList)
	mux.HandleFunc("GET "+pathRun, h.handleShow)
	mux.HandleFunc("POST "+pathRunRerun, h.handleRerun)
}

func (h *Runs) log() *slog.Logger { return orDiscard(h.Logger) }

func (h *Runs) fail(w http.ResponseWriter, r *http.Request, err error) {
	writeError(w, h.log(), r, err)
}

func (h *Runs) handleStart(w http.ResponseWriter, r *http.Request) {
	var req runs.StartRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		h.fail(w, r, fmt.Errorf("%w: %v", ErrInvalid, err))
		return
	}
	id, err := h.Service.Start(r.Context(), req)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, StartedRun{ID: id})
}

func runID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%w: %q is not a run number", ErrInvalid, r.PathValue("id"))
	}
	return id, nil
}

// handleEvents streams a run's events from the cursor of ?from= or of
// the Last-Event-ID header of a reconnecting client, until the run's
// stream ends or the client goes. With ?follow=true the run waits for
// this client when it falls behind (runs.Service.Follow). With
// ?journaled=true the stream is what the journal holds now and ends
// there, even while the run goes on (runs.Service.Journaled).
func (h *Runs) handleEvents(w http.ResponseWriter, r *http.Request) {
	id, err := runID(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	from := r.URL.Query().Get("from")
	if last := r.Header.Get("Last-Event-ID"); last != "" {
		from = last
	}
	var cursor int64
	if from != "" {
		if cursor, err = strconv.ParseInt(from, 10, 64); err != nil || cursor < 0 {
			h.fail(w, r, fmt.Errorf("%w: cursor %q is not a number", ErrInvalid, from))
			return
		}
	}
	if h.forward(w, r, id) {
		return
	}
	h.executedHere(w, id)
	watch := h.Service.Watch
	switch {
	case r.URL.Query().Get("journaled") == "true":
		watch = h.Service.Journaled
	case r.URL.Query().Get("follow") == "true":
		watch = h.Service.Follow
	}
	events, err := watch(r.Context(), id, runs.Cursor(cursor))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	for e := range events {
		data, err := json.Marshal(e)
		if err != nil {
			h.log().Error("runs API: encoding an event", "run", id, "err", err)
			return
		}
		if _, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", e.Seq, e.Kind, data); err != nil {
			return // the client went
		}
		// Flush when the stream has caught up: a burst of history goes
		// out in large writes, a live event at once.
		if flusher != nil && len(events) == 0 {
			flusher.Flush()
		}
	}
}

func (h *Runs) handleCancel(w http.ResponseWriter, r *http.Request) {
	id, err := runID(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if h.forward(w, r, id) {
		return
	}
	h.executedHere(w, id)
	var req CancelRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&req); err != nil {
		h.fail(w, r, fmt.Errorf("%w: %v", ErrInvalid, err))
		return
	}
	if err := h.Service.Cancel(r.Context(), id, req.Force); err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

func (h *Runs) handleApprove(w http.ResponseWriter, r *http.Request) {
	id, err := runID(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var req ApproveRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&req); err != nil {
		h.fail(w, r, fmt.Errorf("%w: %v", ErrInvalid, err))
		return
	}
	stage, err := h.Service.Approve(r.Context(), id, req.Stage, req.Approved, req.By)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ApproveRequest{Stage: stage, Approved: req.Approved, By: req.By})
}

// maxRunsLimit is the most runs one answer of GET /api/v1/runs carries.
const maxRunsLimit = 1000

// handleList lists runs, newest first: of one project with ?project=,
// at most ?limit= of them (the store's default without).
func (h *Runs) handleList(w http.ResponseWriter, r *http.Request) {
	f := store.RunFilter{Project: r.URL.Query().Get("project")}
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n <= 0 || n > maxRunsLimit {
			h.fail(w, r, fmt.Errorf("%w: limit %q is not a number from 1 to %d", ErrInvalid, l, maxRunsLimit))
			return
		}
		f.Limit = n
	}
	list, err := h.Service.List(r.Context(), f)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if list == nil {
		list = []store.Run{} // [] rather than null: a list, if empty
	}
	writeJSON(w, http.StatusOK, list)
}

// RunDetails answers GET /api/v1/runs/{id}: the run with its actions,
// approvals and attempts (runs.Details in JSON).
type RunDetails struct {
	Run       store.Run        `json:"run"`
	Actions   []store.Action   `json:"actions"`
	Approvals []store.Approval `json:"approvals"`
	Attempts  []store.Attempt  `json:"attempts"`
}

// Details is d as the runs service has it.
func (d RunDetails) Details() runs.Details {
	return runs.Details{Run: d.Run, Actions: d.Actions, Approvals: d.Approvals, Attempts: d.Attempts}
}

func (h *Runs) handleShow(w http.ResponseWriter, r *http.Request) {
	id, err := runID(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d, err := h.Service.Show(r.Context(), id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, RunDetails{Run: d.Run, Actions: d.Actions, Approvals: d.Approvals, Attempts: d.Attempts})
}

// RerunRequest asks to run an earlier run again at its commit; with
// Failed, what succeeded then keeps its result. Jobs bounds the actions
// running at once; 0 is the server's number of CPUs.
type RerunRequest struct {
	Failed bool `json:"failed,omitempty"`
	Jobs   int  `json:"jobs,omitempty"`
}

func (h *Runs) handleRerun(w http.ResponseWriter, r *http.Request) {
	id, err := runID(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var req RerunRequest
	// An empty body is a plain rerun.
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&req); err != nil && !errors.Is(err, io.EOF) {
		h.fail(w, r, fmt.Errorf("%w: %v", ErrInvalid, err))
		return
	}
	if req.Jobs == 0 {
		req.Jobs = runtime.NumCPU()
	}
	started, err := h.Service.Start(r.Context(), runs.StartRequest{Rerun: id, Failed: req.Failed, Jobs: req.Jobs})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, StartedRun{ID: started})
}
