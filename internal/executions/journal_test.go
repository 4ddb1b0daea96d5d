package executions

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/store/sqlite"
	"github.com/velocity-ci/velocity/internal/workflow"
)

// The journal keeps every field of an event, so that a resumed execution
// reads back exactly what the interpreter wrote.
func TestSQLiteJournalRoundTrip(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "velocity.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	id, err := st.CreateExecution(ctx, store.Execution{ARN: "arn:x", Name: "x", StateMachine: "sm", Created: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2024, 1, 1, 0, 0, 0, 123e6, time.UTC)
	events := []workflow.Event{
		{ID: 1, Timestamp: at, Type: workflow.ExecutionStarted, Details: json.RawMessage(`{"input":"{}"}`)},
		{ID: 2, PreviousEventID: 1, Timestamp: at, Type: workflow.TaskScheduled, Scope: "Each#1/7",
			Details: json.RawMessage(`{"resource":"arn:velocity:command"}`), Resume: json.RawMessage(`{"token":"t"}`)},
	}
	j := storeJournal{st}
	if err := j.Append(ctx, "1", events[:1]); err != nil {
		t.Fatal(err)
	}
	if err := j.Append(ctx, "1", events[1:]); err != nil {
		t.Fatal(err)
	}
	if err := j.Append(ctx, "x1", events[1:]); err == nil {
		t.Error("an execution ID that is not the store's was accepted")
	}
	got, err := history(ctx, st, id)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(events)
	have, _ := json.Marshal(got)
	if string(have) != string(want) {
		t.Errorf("read back\n%s\nwant\n%s", have, want)
	}
}

// The journal stores event details byte for byte: < > & stay as the
// interpreter wrote them, as Step Functions shows them, instead of being
// re-escaped on the way into SQLite.
func TestSQLiteJournalKeepsHTMLCharacters(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "velocity.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	id, err := st.CreateExecution(ctx, store.Execution{ARN: "arn:x", Name: "x", StateMachine: "sm", Created: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	details := `{"name":"a<&>b","parameters":"{\"Command\":\"echo x >&2\"}"}`
	ev := workflow.Event{ID: 1, Timestamp: time.Now(), Type: workflow.TaskScheduled, Details: json.RawMessage(details)}
	if err := (storeJournal{st}).Append(ctx, strconv.FormatInt(id, 10), []workflow.Event{ev}); err != nil {
		t.Fatal(err)
	}
	got, err := history(ctx, st, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || string(got[0].Details) != details {
		t.Fatalf("read back %s, want %s", got[0].Details, details)
	}
	b, err := workflow.MarshalHistory(got)
	if err != nil || !strings.Contains(string(b), details) {
		t.Errorf("history JSON %s (%v) does not hold %s", b, err, details)
	}
}
