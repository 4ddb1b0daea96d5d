package executions

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/workflow"
	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
	"github.com/velocity-ci/velocity/internal/workflow/payload"
)

// Event is one history event of an execution; Result is how an
// execution ended.
type (
	Event  = workflow.Event
	Result = workflow.Result
)

// StatusSucceeded is the Result.Status of an execution that succeeded.
const StatusSucceeded = workflow.StatusSucceeded

// storeJournal is the interpreter's Journal on the store: each event is
// kept whole as JSON, with its type and time beside it for queries.
type storeJournal struct{ st store.Workflows }

func (j storeJournal) Append(ctx context.Context, executionID string, events []workflow.Event) error {
	id, err := strconv.ParseInt(executionID, 10, 64)
	if err != nil {
		return fmt.Errorf("journal: execution ID %q: %w", executionID, err)
	}
	return j.append(ctx, id, events)
}

func (j storeJournal) append(ctx context.Context, id int64, events []workflow.Event) error {
	out := make([]store.Event, len(events))
	for i, e := range events {
		body, err := e.MarshalJournal()
		if err != nil {
			return fmt.Errorf("journal: event %d: %w", e.ID, err)
		}
		out[i] = store.Event{ID: e.ID, Type: string(e.Type), At: e.Timestamp, Body: body}
	}
	return j.st.AppendEvents(ctx, id, out)
}

// observedJournal is storeJournal telling observe of each batch it
// recorded.
type observedJournal struct {
	storeJournal
	observe func(executionID int64, events []workflow.Event)
}

func (j observedJournal) Append(ctx context.Context, executionID string, events []workflow.Event) error {
	id, err := strconv.ParseInt(executionID, 10, 64)
	if err != nil {
		return fmt.Errorf("journal: execution ID %q: %w", executionID, err)
	}
	if err := j.append(ctx, id, events); err != nil {
		return err
	}
	j.observe(id, events)
	return nil
}

// history reads an execution's recorded events.
func history(ctx context.Context, st store.Workflows, id int64) ([]workflow.Event, error) {
	rows, err := st.Events(ctx, id)
	if err != nil {
		return nil, err
	}
	out := make([]workflow.Event, len(rows))
	for i, r := range rows {
		var err error
		if out[i], err = workflow.UnmarshalJournal(r.Body); err != nil {
			return nil, fmt.Errorf("history of execution %d: event %d: %w", id, r.ID, err)
		}
	}
	return out, nil
}

// MarshalHistory gives events as Step Functions' GetExecutionHistory
// does: {"events":[…]}.
func MarshalHistory(events []Event) ([]byte, error) { return workflow.MarshalHistory(events) }

// EventSummary picks the state name and the error (or the resource, or
// the iteration) of an event, for a line about it.
func EventSummary(ev Event) (name, detail string) {
	var d struct {
		Name     string `json:"name"`
		Resource string `json:"resource"`
		Error    string `json:"error"`
		Cause    string `json:"cause"`
		Index    *int   `json:"index"`
	}
	if len(ev.Details) > 0 {
		json.Unmarshal(ev.Details, &d)
	}
	switch {
	case d.Error != "":
		detail = d.Error
		if d.Cause != "" {
			detail += ": " + d.Cause
		}
		if len(detail) > 120 {
			detail = detail[:117] + "..."
		}
	case d.Resource != "":
		detail = d.Resource
	case d.Index != nil:
		detail = fmt.Sprintf("iteration %d", *d.Index)
	}
	return d.Name, detail
}

// marshalJSON is json.Marshal without escaping <, > and & as \u003c and
// the like: Step Functions writes them as they are.
func marshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func decodeJSON(b []byte) (any, error) {
	if len(b) == 0 {
		return &jsonvalue.Object{}, nil
	}
	return payload.Decode(b)
}
