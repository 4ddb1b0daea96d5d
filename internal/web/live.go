package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/velocity-ci/velocity/internal/runs"
	"github.com/velocity-ci/velocity/internal/store"
)

// recheckSession is how often a live stream asks whether its session
// still holds: revoking a token ends the streams it watches too.
const recheckSession = 15 * time.Second

// The live stream's events (server-sent events named by kind), what
// static/live.js applies to the run page.
type (
	// liveState changes an action's data-state (and its duration).
	liveState struct {
		Action   string       `json:"action"`
		State    store.Status `json:"state"`
		Duration string       `json:"duration,omitempty"`
	}
	// liveLine is a new line of an action's log.
	liveLine struct {
		Action  string `json:"action"`
		Attempt int    `json:"attempt"`
		Spans   []span `json:"spans"`
	}
	// liveApproval says a stage waits ("pending") or was decided.
	liveApproval struct {
		Stage  string `json:"stage"`
		Status string `json:"status"`
	}
	// liveFinished says the run ended.
	liveFinished struct {
		Status store.Status `json:"status"`
	}
)

// live streams a run's changes to its page: the run service's events
// (runs.Service.Watch, as the API's stream), turned into what the page
// shows. The page was drawn from the journal and the logs: ?lines= says
// how many lines of each action (in the order of the run's actions) it
// already has, and those are skipped. A reconnecting browser says, in
// Last-Event-ID, the last event it has; from there nothing is skipped.
func (s *Site) live(w http.ResponseWriter, r *http.Request) {
	id, err := s.runID(r)
	if err != nil {
		s.failWith(w, r, err)
		return
	}
	from, skip, err := s.liveStart(r, id)
	if err != nil {
		s.failWith(w, r, err)
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	events, err := s.Runs.Watch(ctx, id, from)
	if err != nil {
		s.failWith(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	s.stream(ctx, w, r, events, skip)
}

// liveStart is where the stream starts and how many output lines of
// each action to skip.
func (s *Site) liveStart(r *http.Request, id int64) (runs.Cursor, map[string]int, error) {
	if last := r.Header.Get("Last-Event-ID"); last != "" {
		c, err := strconv.ParseInt(last, 10, 64)
		if err != nil || c < 0 {
			return 0, nil, fmt.Errorf("Last-Event-ID %q is not an event number", last)
		}
		return runs.Cursor(c), nil, nil
	}
	skip := map[string]int{}
	lines := r.URL.Query().Get("lines")
	if lines == "" {
		return 0, skip, nil
	}
	d, err := s.Runs.Show(r.Context(), id)
	if err != nil {
		return 0, nil, err
	}
	for i, n := range strings.Split(lines, ",") {
		if c, err := strconv.Atoi(n); err == nil && i < len(d.Actions) {
			skip[d.Actions[i].Stage+"/"+d.Actions[i].Name] = c
		}
	}
	return 0, skip, nil
}

// stream writes events until the run's stream ends, the browser goes or
// the session no longer holds.
func (s *Site) stream(ctx context.Context, w http.ResponseWriter, r *http.Request, events <-chan runs.Event, skip map[string]int) {
	flusher, _ := w.(http.Flusher)
	tick := time.NewTicker(recheckSession)
	defer tick.Stop()
	for {
		select {
		case e, ok := <-events:
			if !ok {
				fmt.Fprint(w, "event: end\ndata: {}\n\n")
				return
			}
			if !s.send(w, e, skip) {
				return
			}
			// A burst of history goes out in large writes, a live event
			// at once.
			if flusher != nil && len(events) == 0 {
				flusher.Flush()
			}
		case <-tick.C:
			if _, err := s.session(r); err != nil {
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

// send writes the page's event for e, if it has one; false when the
// browser has gone.
func (s *Site) send(w http.ResponseWriter, e runs.Event, skip map[string]int) bool {
	kind, v := pageEvent(e, skip)
	if kind == "" {
		return true
	}
	data, err := json.Marshal(v)
	if err != nil {
		s.log().Error("web: encoding a live event", "run", e.RunID, "err", err)
		return false
	}
	_, err = fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", e.Seq, kind, data)
	return err == nil
}

// pageEvent is what e changes on the run page, named by kind; "" for an
// event that changes nothing there (or a line the page already has).
func pageEvent(e runs.Event, skip map[string]int) (string, any) {
	switch {
	case e.Output != nil:
		if skip[e.Output.Action] > 0 {
			skip[e.Output.Action]--
			return "", nil
		}
		return "line", liveLine{Action: e.Output.Action, Attempt: e.Output.Attempt, Spans: ansiSpans(e.Output.Text)}
	case e.AttemptStarted != nil:
		return "state", liveState{Action: e.AttemptStarted.Action, State: store.Running}
	case e.AttemptFinished != nil && e.AttemptFinished.Final:
		f := e.AttemptFinished
		return "state", liveState{Action: f.Action, State: f.Status, Duration: short(f.Finished.Sub(f.Started))}
	case e.ActionSkipped != nil:
		return "state", liveState{Action: e.ActionSkipped.Action, State: e.ActionSkipped.Status}
	case e.ApprovalWaiting != nil:
		return "approval", liveApproval{Stage: e.ApprovalWaiting.Stage, Status: string(store.ApprovalPending)}
	case e.ApprovalDecided != nil:
		return "approval", liveApproval{Stage: e.ApprovalDecided.Stage, Status: string(e.ApprovalDecided.Status)}
	case e.RunFinished != nil:
		return "finished", liveFinished{Status: e.RunFinished.Status}
	}
	return "", nil
}
