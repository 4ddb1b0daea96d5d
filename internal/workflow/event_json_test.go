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
