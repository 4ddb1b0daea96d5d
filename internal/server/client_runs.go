package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"

	"github.com/velocity-ci/velocity/internal/runs"
	"github.com/velocity-ci/velocity/internal/store"
)

// StartRun starts a run on the server and returns its number.
func (c *Client) StartRun(ctx context.Context, req runs.StartRequest) (int64, error) {
	var out StartedRun
	err := c.do(ctx, http.MethodPost, pathRuns, req, &out)
	return out.ID, err
}

// CancelRun stops a run the server executes; force skips its clean-up.
func (c *Client) CancelRun(ctx context.Context, id int64, force bool) error {
	return c.do(ctx, http.MethodPost, fmt.Sprintf("/api/v1/runs/%d/cancel", id), CancelRequest{Force: force}, nil)
}

// ApproveRun decides the approval of a stage of run id ("" the only one
// that waits) and returns the stage decided.
func (c *Client) ApproveRun(ctx context.Context, id int64, stage string, approved bool, by string) (string, error) {
	var out ApproveRequest
	err := c.do(ctx, http.MethodPost, fmt.Sprintf("/api/v1/runs/%d/approve", id), ApproveRequest{Stage: stage, Approved: approved, By: by}, &out)
	return out.Stage, err
}

// RunEvents is the event stream of a run on the server.
type RunEvents struct {
	// C delivers the events in order; it closes when the stream ends.
	C   <-chan runs.Event
	mu  sync.Mutex
	err error
}

// Err says why C closed early: nil when the stream ended (or ctx did).
func (r *RunEvents) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// reconnects is how many times a broken stream is resumed from its last
// event before WatchRun gives up.
const reconnects = 3

// WatchRun streams the events of run id after cursor from. A stream cut
// before its end is resumed from the last event received, so no event is
// lost or repeated. With follow, the run waits for this client when it
// falls behind (see runs.Service.Follow): for the one rendering it.
func (c *Client) WatchRun(ctx context.Context, id int64, from runs.Cursor, follow bool) (*RunEvents, error) {
	path := func(from runs.Cursor) string {
		return fmt.Sprintf("/api/v1/runs/%d/events?from=%d&follow=%t", id, from, follow)
	}
	resp, err := c.send(ctx, http.MethodGet, path(from), nil)
	if err != nil {
		return nil, err
	}
	out := make(chan runs.Event, 64)
	ev := &RunEvents{C: out}
	go func() {
		defer close(out)
		cursor, tries, finished := from, 0, false
		for {
			cursor, finished, err = readEvents(ctx, resp, cursor, finished, out)
			resp.Body.Close()
			if err == nil || ctx.Err() != nil {
				return
			}
			if tries++; tries > reconnects {
				break
			}
			resp, err = c.send(ctx, http.MethodGet, path(cursor), nil)
			if err != nil {
				break
			}
		}
		ev.mu.Lock()
		ev.err = fmt.Errorf("events of run %d from velocity serve: %w", id, err)
		ev.mu.Unlock()
	}()
	return ev, nil
}

// errCut is a stream whose body ended before the run did.
var errCut = errors.New("the stream ended before the run did")

// readEvents delivers the server-sent events of resp after cursor and
// says whether the run_finished event has come; a nil error means the
// server closed the stream after it, the stream's end.
func readEvents(ctx context.Context, resp *http.Response, cursor runs.Cursor, finished bool, out chan<- runs.Event) (runs.Cursor, bool, error) {
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	var data []byte
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case bytes.HasPrefix(line, []byte("data: ")):
			data = append(data, line[len("data: "):]...)
		case len(line) == 0 && len(data) > 0:
			var e runs.Event
			if err := json.Unmarshal(data, &e); err != nil {
				return cursor, finished, fmt.Errorf("event %s: %w", strconv.Quote(string(data)), err)
			}
			data = data[:0]
			if e.Seq <= cursor {
				continue // resent after a reconnect
			}
			select {
			case out <- e:
				cursor = e.Seq
			case <-ctx.Done():
				return cursor, finished, ctx.Err()
			}
			finished = finished || e.RunFinished != nil
		}
	}
	if err := sc.Err(); err != nil {
		return cursor, finished, err
	}
	// A clean end of the body is the end of the stream once the run has
	// finished; before that, the connection was cut.
	if !finished {
		return cursor, false, errCut
	}
	return cursor, true, nil
}

// ListRuns lists the server's runs, newest first: of project ("" every
// project), at most limit (0 the server's default).
func (c *Client) ListRuns(ctx context.Context, project string, limit int) ([]store.Run, error) {
	q := url.Values{}
	if project != "" {
		q.Set("project", project)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	path := pathRuns
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out []store.Run
	err := c.do(ctx, http.MethodGet, path, nil, &out)
	return out, err
}

// ShowRun returns run id with its actions, approvals and attempts.
func (c *Client) ShowRun(ctx context.Context, id int64) (runs.Details, error) {
	var out RunDetails
	if err := c.do(ctx, http.MethodGet, fmt.Sprintf("/api/v1/runs/%d", id), nil, &out); err != nil {
		return runs.Details{}, err
	}
	return out.Details(), nil
}

// RerunRun starts run id again at its commit (failed: only what did not
// succeed) and returns the new run's number.
func (c *Client) RerunRun(ctx context.Context, id int64, failed bool, jobs int) (int64, error) {
	var out StartedRun
	err := c.do(ctx, http.MethodPost, fmt.Sprintf("/api/v1/runs/%d/rerun", id), RerunRequest{Failed: failed, Jobs: jobs}, &out)
	return out.ID, err
}

// JournaledRun streams the events of run id as far as the server's
// journal holds them now; C closes after them even while the run goes on.
func (c *Client) JournaledRun(ctx context.Context, id int64) (*RunEvents, error) {
	resp, err := c.send(ctx, http.MethodGet, fmt.Sprintf("/api/v1/runs/%d/events?journaled=true", id), nil)
	if err != nil {
		return nil, err
	}
	out := make(chan runs.Event, 64)
	ev := &RunEvents{C: out}
	go func() {
		defer close(out)
		defer resp.Body.Close()
		_, _, err := readEvents(ctx, resp, 0, false, out)
		if err != nil && !errors.Is(err, errCut) && ctx.Err() == nil {
			ev.mu.Lock()
			ev.err = fmt.Errorf("events of run %d from velocity serve: %w", id, err)
			ev.mu.Unlock()
		}
	}()
	return ev, nil
}
