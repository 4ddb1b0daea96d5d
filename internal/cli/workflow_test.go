package cli

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
	"github.com/velocity-ci/velocity/internal/workflow/payload"
)

func TestStateMachineName(t *testing.T) {
	for file, want := range map[string]string{
		"dir/orders.asl.json": "orders",
		"orders.asl.yaml":     "orders",
		"orders.yml":          "orders",
		"orders.json":         "orders",
		"my.flow.json":        "my.flow",
	} {
		if got := stateMachineName(file); got != want {
			t.Errorf("%s: %q, want %q", file, got, want)
		}
	}
}

func TestCheckName(t *testing.T) {
	for _, ok := range []string{"nightly", "run-2024.01_a", "acct-1"} {
		if err := checkName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a b", "a/b", "x:y", "tab\t", strings.Repeat("a", 81)} {
		if checkName(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

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
	j := sqliteJournal{st}
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
	if err := (sqliteJournal{st}).Append(ctx, strconv.FormatInt(id, 10), []workflow.Event{ev}); err != nil {
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

// run --json prints what DescribeExecution would: no cause key when the
// execution failed without one, text as it is, not HTML-escaped, and
// object members in their order, as Step Functions keeps them.
func TestWriteResult(t *testing.T) {
	for _, c := range []struct {
		res  workflow.Result
		want string
	}{
		{workflow.Result{Status: workflow.StatusSucceeded, Output: map[string]any{"s": "<a&b>"}}, `{"status":"SUCCEEDED","output":{"s":"<a&b>"}}`},
		{workflow.Result{Status: workflow.StatusSucceeded, Output: ordered(t, `{"z":1,"a":{"y":[{"q":1,"p":2}],"x":null}}`)}, `{"status":"SUCCEEDED","output":{"z":1,"a":{"y":[{"q":1,"p":2}],"x":null}}}`},
		{workflow.Result{Status: workflow.StatusFailed, Error: "E"}, `{"status":"FAILED","error":"E"}`},
		{workflow.Result{Status: workflow.StatusFailed, Error: "E", Cause: "x > y"}, `{"status":"FAILED","error":"E","cause":"x > y"}`},
		{workflow.Result{Status: workflow.StatusAborted}, `{"status":"ABORTED"}`},
	} {
		var b strings.Builder
		if err := writeResult(&b, c.res); err != nil {
			t.Fatal(err)
		}
		if b.String() != c.want+"\n" {
			t.Errorf("writeResult(%+v) = %q, want %q", c.res, b.String(), c.want)
		}
	}
}

func ordered(t *testing.T, src string) any {
	t.Helper()
	v, err := payload.Decode([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return v
}
