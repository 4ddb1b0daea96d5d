package workflow

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// EventType is a history event's type, named as in Step Functions'
// GetExecutionHistory.
type EventType string

// Event types the interpreter records.
const (
	ExecutionStarted   EventType = "ExecutionStarted"
	ExecutionSucceeded EventType = "ExecutionSucceeded"
	ExecutionFailed    EventType = "ExecutionFailed"
	// EvaluationFailed records a JSONata expression that failed
	// (States.QueryEvaluationError), before the state fails.
	EvaluationFailed  EventType = "EvaluationFailed"
	ExecutionTimedOut EventType = "ExecutionTimedOut"
	ExecutionAborted  EventType = "ExecutionAborted"
	ExecutionRedriven EventType = "ExecutionRedriven"

	TaskStateEntered EventType = "TaskStateEntered"
	TaskStateExited  EventType = "TaskStateExited"
	TaskStateAborted EventType = "TaskStateAborted"
	TaskScheduled    EventType = "TaskScheduled"
	TaskStarted      EventType = "TaskStarted"
	TaskSubmitted    EventType = "TaskSubmitted"
	TaskSucceeded    EventType = "TaskSucceeded"
	TaskFailed       EventType = "TaskFailed"
	TaskTimedOut     EventType = "TaskTimedOut"

	// A Task whose Resource is a Lambda function ARN records these
	// instead of TaskScheduled … TaskTimedOut.
	LambdaFunctionScheduled EventType = "LambdaFunctionScheduled"
	LambdaFunctionStarted   EventType = "LambdaFunctionStarted"
	LambdaFunctionSucceeded EventType = "LambdaFunctionSucceeded"
	LambdaFunctionFailed    EventType = "LambdaFunctionFailed"
	LambdaFunctionTimedOut  EventType = "LambdaFunctionTimedOut"

	PassStateEntered    EventType = "PassStateEntered"
	PassStateExited     EventType = "PassStateExited"
	ChoiceStateEntered  EventType = "ChoiceStateEntered"
	ChoiceStateExited   EventType = "ChoiceStateExited"
	WaitStateEntered    EventType = "WaitStateEntered"
	WaitStateExited     EventType = "WaitStateExited"
	WaitStateAborted    EventType = "WaitStateAborted"
	SucceedStateEntered EventType = "SucceedStateEntered"
	SucceedStateExited  EventType = "SucceedStateExited"
	FailStateEntered    EventType = "FailStateEntered"

	ParallelStateEntered   EventType = "ParallelStateEntered"
	ParallelStateStarted   EventType = "ParallelStateStarted"
	ParallelStateSucceeded EventType = "ParallelStateSucceeded"
	ParallelStateFailed    EventType = "ParallelStateFailed"
	ParallelStateAborted   EventType = "ParallelStateAborted"
	ParallelStateExited    EventType = "ParallelStateExited"

	MapStateEntered       EventType = "MapStateEntered"
	MapStateStarted       EventType = "MapStateStarted"
	MapIterationStarted   EventType = "MapIterationStarted"
	MapIterationSucceeded EventType = "MapIterationSucceeded"
	MapIterationFailed    EventType = "MapIterationFailed"
	MapIterationAborted   EventType = "MapIterationAborted"
	MapStateSucceeded     EventType = "MapStateSucceeded"
	MapStateFailed        EventType = "MapStateFailed"
	MapStateAborted       EventType = "MapStateAborted"
	MapStateExited        EventType = "MapStateExited"
)

// Event is one entry of an execution's history. The exported JSON form
// (encoding/json of the struct) keeps every field; MarshalJournal adds
// the format version to it for storage, MarshalAWS gives the
// GetExecutionHistory form, which leaves out Scope and Resume. The
// details and resume objects are journaled too: their structs name
// every key.
type Event struct {
	ID              int64     `json:"id"`
	PreviousEventID int64     `json:"previousEventId"`
	Timestamp       time.Time `json:"timestamp"`
	Type            EventType `json:"type"`
	// Details is the "…EventDetails" object of Type (for example
	// stateEnteredEventDetails {"name","input","inputDetails"}), or nil
	// for types without details (ParallelStateStarted, MapStateSucceeded).
	Details json.RawMessage `json:"details,omitempty"`
	// Scope names the Map iteration or Parallel branch the event belongs
	// to: "" for the top level, otherwise a path of the enclosing
	// states' names, visit numbers and iteration or branch indexes. It is
	// what lets a resumed execution match iterations that finished out of
	// order; its form is internal to this package.
	Scope string `json:"scope,omitempty"`
	// Resume holds what resuming needs beyond AWS's details (the next
	// state after a Choice or Catch, a drawn retry delay, a Wait's end, a
	// task token); opaque to the Journal, nil when there is nothing.
	Resume json.RawMessage `json:"resume,omitempty"`
}

// eventFormat is the format of a journaled event (MarshalJournal).
// Format 0, journaled before the version existed, has the same keys.
const eventFormat = 1

// journaledEvent is an Event as a journal stores it.
type journaledEvent struct {
	Version int `json:"version"`
	Event
}

// MarshalJournal returns e as a Journal stores it: its JSON form with the
// format version, <, > and & left as they are.
//
// The bytes are those encoding/json writes for journaledEvent, built
// here by hand: every event passes through this on its way to the
// journal, and reflection spent more time on it than SQLite spent
// storing it. The uncommon cases (a string that needs escaping, details
// with insignificant space, a time encoding/json refuses) are handed to
// encoding/json, so the two cannot differ.
func (e Event) MarshalJournal() ([]byte, error) {
	b := make([]byte, 0, 160+len(e.Type)+len(e.Details)+len(e.Scope)+len(e.Resume))
	b = append(b, `{"version":`...)
	b = strconv.AppendInt(b, eventFormat, 10)
	b = append(b, `,"id":`...)
	b = strconv.AppendInt(b, e.ID, 10)
	b = append(b, `,"previousEventId":`...)
	b = strconv.AppendInt(b, e.PreviousEventID, 10)
	b = append(b, `,"timestamp":`...)
	b, ok := appendJournalTime(b, e.Timestamp)
	if !ok {
		return marshalJSON(journaledEvent{Version: eventFormat, Event: e})
	}
	b = append(b, `,"type":`...)
	b = appendJournalString(b, string(e.Type))
	var err error
	if len(e.Details) > 0 {
		b = append(b, `,"details":`...)
		if b, err = appendJournalRaw(b, e.Details); err != nil {
			return nil, fmt.Errorf("event %d details: %w", e.ID, err)
		}
	}
	if e.Scope != "" {
		b = append(b, `,"scope":`...)
		b = appendJournalString(b, e.Scope)
	}
	if len(e.Resume) > 0 {
		b = append(b, `,"resume":`...)
		if b, err = appendJournalRaw(b, e.Resume); err != nil {
			return nil, fmt.Errorf("event %d resume: %w", e.ID, err)
		}
	}
	return append(b, '}'), nil
}

// appendJournalTime appends t as encoding/json writes a time.Time
// (RFC 3339 with nanoseconds, quoted); false when encoding/json would
// refuse it (a year past 9999, an offset of a day or more).
func appendJournalTime(b []byte, t time.Time) ([]byte, bool) {
	if y := t.Year(); y < 0 || y > 9999 {
		return b, false
	}
	if _, off := t.Zone(); off <= -24*3600 || off >= 24*3600 {
		return b, false
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), true
}

// appendJournalString appends s as a JSON string the way marshalJSON
// does; text of printable ASCII without quotes or backslashes, which
// event types and scope names are, is copied as it is.
func appendJournalString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			q, err := marshalJSON(s)
			if err != nil {
				// A Go string always encodes.
				panic("workflow: cannot encode a string: " + err.Error())
			}
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendJournalRaw appends a raw JSON value compacted, as encoding/json
// writes a json.RawMessage. Details and resume data come compact from
// mustJSON or from a journal; only a value with white space in it is
// passed through json.Compact, which also rejects one that is not JSON.
func appendJournalRaw(b []byte, raw json.RawMessage) ([]byte, error) {
	if bytes.IndexAny(raw, " \t\n\r") < 0 {
		return append(b, raw...), nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, err
	}
	return append(b, buf.Bytes()...), nil
}

// UnmarshalJournal reads an event MarshalJournal wrote, in this format or
// an earlier one; a newer format is an error rather than an event that
// replays with parts missing.
func UnmarshalJournal(b []byte) (Event, error) {
	var j journaledEvent
	if err := json.Unmarshal(b, &j); err != nil {
		return Event{}, err
	}
	if j.Version > eventFormat {
		return Event{}, fmt.Errorf("event format %d is newer than %d: upgrade velocity", j.Version, eventFormat)
	}
	return j.Event, nil
}

// DetailsKey is the name of the details field of t in GetExecutionHistory:
// "stateEnteredEventDetails" for every …StateEntered type,
// "stateExitedEventDetails" for …StateExited, else "<type>EventDetails"
// with a lower-case first letter ("taskScheduledEventDetails").
func DetailsKey(t EventType) string {
	s := string(t)
	switch {
	case strings.HasSuffix(s, "StateEntered"):
		return "stateEnteredEventDetails"
	case strings.HasSuffix(s, "StateExited"):
		return "stateExitedEventDetails"
	case s == "":
		return ""
	}
	return strings.ToLower(s[:1]) + s[1:] + "EventDetails"
}

// timeLayout is the contract's timestamp form: RFC 3339, milliseconds, UTC.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// formatTime writes t in the contract's timestamp form.
func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// awsEvent is the GetExecutionHistory shape of an Event; the details are
// added under their type's key by MarshalAWS.
type awsEvent struct {
	ID              int64  `json:"id"`
	PreviousEventID int64  `json:"previousEventId"`
	Timestamp       string `json:"timestamp"`
	Type            string `json:"type"`
}

// marshalJSON encodes v as Step Functions writes JSON: like json.Marshal
// but with <, > and & as they are, not escaped for HTML.
func marshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// MarshalAWS returns e as GetExecutionHistory shows it:
// {"id":1,"previousEventId":0,"timestamp":"…","type":"ExecutionStarted",
// "executionStartedEventDetails":{…}}.
func (e Event) MarshalAWS() ([]byte, error) {
	head, err := marshalJSON(awsEvent{ID: e.ID, PreviousEventID: e.PreviousEventID, Timestamp: formatTime(e.Timestamp), Type: string(e.Type)})
	if err != nil {
		return nil, err
	}
	if len(e.Details) == 0 {
		return head, nil
	}
	key, err := marshalJSON(DetailsKey(e.Type))
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(head)+len(key)+len(e.Details)+2)
	out = append(out, head[:len(head)-1]...)
	out = append(out, ',')
	out = append(out, key...)
	out = append(out, ':')
	out = append(out, e.Details...)
	out = append(out, '}')
	return out, nil
}

// MarshalHistory returns events as GetExecutionHistory's response body:
// {"events":[…]}.
func MarshalHistory(events []Event) ([]byte, error) {
	out := []byte(`{"events":[`)
	for i, e := range events {
		b, err := e.MarshalAWS()
		if err != nil {
			return nil, err
		}
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, b...)
	}
	return append(out, "]}"...), nil
}
