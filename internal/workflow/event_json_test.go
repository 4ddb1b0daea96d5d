package workflow

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/store/jsontag"
)

// An event as the journal held it before events had a format version
// (e2e/testdata/golden-journal, execution 3).
const eventFormat0 = `{"id":3,"previousEventId":2,"timestamp":"2026-12-07T18:13:12.409343845Z","type":"TaskScheduled","details":{"resourceType":"states","resource":"startExecution.sync:2","region":"us-east-1","parameters":"{\"StateMachineArn\":\"arn:aws:states:us-east-1:123456789012:stateMachine:child\",\"Input\":{\"who\":\"golden\"}}"},"scope":"Each#1/0","resume":{"token":"abc"}}`

func TestEventJournalFormats(t *testing.T) {
	e, err := UnmarshalJournal([]byte(eventFormat0))
	if err != nil {
		t.Fatalf("format 0: %v", err)
	}
	if e.ID != 3 || e.PreviousEventID != 2 || e.Type != TaskScheduled || e.Scope != "Each#1/0" ||
		!e.Timestamp.Equal(time.Date(2026, 12, 7, 18, 13, 12, 409343845, time.UTC)) ||
		!strings.Contains(string(e.Details), `"resource":"startExecution.sync:2"`) || string(e.Resume) != `{"token":"abc"}` {
		t.Errorf("format 0 reads as %+v", e)
	}
	var r scheduledResume
	if err := unmarshalStrict(e.Resume, &r); err != nil || r.Token != "abc" {
		t.Errorf("resume reads as %+v, %v", r, err)
	}

	b, err := e.MarshalJournal()
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"version":1,` + eventFormat0[1:]; string(b) != want {
		t.Errorf("journaled as\n%s\nwant\n%s", b, want)
	}
	again, err := UnmarshalJournal(b)
	if err != nil || !reflect.DeepEqual(again, e) {
		t.Errorf("format 1 reads back as %+v, %v", again, err)
	}
	if _, err := UnmarshalJournal([]byte(`{"version":2,"id":1}`)); err == nil || !strings.Contains(err.Error(), "upgrade velocity") {
		t.Errorf("a newer format reads with error %v", err)
	}
}

// Every field of a journaled event, and of the details and resume
// objects it carries, has an explicit JSON key: a resumed execution
// replays what an earlier velocity wrote.
func TestEventJSONTags(t *testing.T) {
	m := jsontag.Missing(
		reflect.TypeFor[journaledEvent](),
		// Details.
		reflect.TypeFor[executionStartedDetails](), reflect.TypeFor[truncDetails](), reflect.TypeFor[errorDetails](),
		reflect.TypeFor[outputDetails](), reflect.TypeFor[redrivenDetails](), reflect.TypeFor[evaluationFailedDetails](),
		reflect.TypeFor[mapStartedDetails](), reflect.TypeFor[mapIterationDetails](),
		reflect.TypeFor[stateEnteredDetails](), reflect.TypeFor[stateExitedDetails](), reflect.TypeFor[assignedVariablesDetails](),
		reflect.TypeFor[taskScheduledDetails](), reflect.TypeFor[taskResourceDetails](), reflect.TypeFor[taskSucceededDetails](),
		reflect.TypeFor[taskSubmittedDetails](), reflect.TypeFor[taskFailedDetails](), reflect.TypeFor[lambdaScheduledDetails](),
		// Resume.
		reflect.TypeFor[exitResume](), reflect.TypeFor[scheduledResume](), reflect.TypeFor[failureResume](),
	)
	if len(m) > 0 {
		t.Errorf("fields without a json tag: %v", m)
	}
}

func unmarshalStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// MarshalJournal writes by hand what encoding/json writes for a
// journaledEvent, byte for byte, escapes and odd values included.
func TestMarshalJournalIsEncodingJSON(t *testing.T) {
	at := time.Date(2026, 12, 7, 18, 13, 12, 409343845, time.UTC)
	east := time.FixedZone("east", 5*3600+30*60)
	events := []Event{
		{},
		{ID: 1, Timestamp: at, Type: ExecutionStarted, Details: json.RawMessage(`{"input":"{\"a\":\"<b>&amp;</b>\"}","roleArn":"r"}`)},
		{ID: 42, PreviousEventID: 41, Timestamp: at.In(east), Type: PassStateEntered, Scope: "/Each@1.0#7",
			Details: json.RawMessage(`{"name":"Step","input":"x y"}`), Resume: json.RawMessage(`{"next":"B"}`)},
		{ID: 3, Timestamp: time.Date(2026, 1, 2, 3, 4, 5, 0, time.Local), Type: "Odd\"Type\\", Scope: "tab\there\nnewline é \u2028 <&>"},
		{ID: 4, Timestamp: at, Type: TaskFailed, Details: json.RawMessage("{ \"error\" : \"E\",\n\t\"cause\": \"a  b\" }"),
			Resume: json.RawMessage(" [1, 2] ")},
		{ID: 5, Timestamp: at, Type: TaskFailed, Scope: "bad \xff utf-8 \x01"},
		{ID: 6, Timestamp: time.Date(12345, 1, 1, 0, 0, 0, 0, time.UTC), Type: WaitStateEntered},
		{ID: 7, Timestamp: at, Type: TaskFailed, Details: json.RawMessage(`{"a": }`)},
	}
	for _, e := range events {
		want, wantErr := marshalJSON(journaledEvent{Version: eventFormat, Event: e})
		got, err := e.MarshalJournal()
		if (err != nil) != (wantErr != nil) || string(got) != string(want) {
			t.Errorf("event %d:\n got %s, %v\nwant %s, %v", e.ID, got, err, want, wantErr)
		}
	}
}

func BenchmarkMarshalJournal(b *testing.B) {
	e := Event{ID: 4242, PreviousEventID: 4241, Timestamp: time.Now(), Type: PassStateExited, Scope: "/Each@1.0#1234",
		Details: json.RawMessage(`{"name":"Step","output":"{\"item\":1234,\"done\":true}","outputDetails":{"truncated":false}}`)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.MarshalJournal(); err != nil {
			b.Fatal(err)
		}
	}
}
