package workflow

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

// scope runs one sequence of states: the top level, a Map iteration or a
// Parallel branch. Its events are recorded in order under its name; when
// the execution resumes, rec holds the events recorded for the scope
// before, and the scope consumes them instead of acting until it reaches
// the point where the history stopped.
//
// A scope is used by one goroutine at a time.
type scope struct {
	run  *execution
	name string
	// parent is the scope a Map iteration or Parallel branch runs in,
	// whose variables it reads; nil at the top level.
	parent *scope
	// vars are the workflow variables this scope assigned; varSizes
	// their sizes as JSON and varBytes the sum, for MaxVariablesBytes.
	vars     map[string]any
	varSizes map[string]int
	varBytes int

	rec []Event
	pos int

	pending []Event
	// lastID is the source event the scope's next event links to
	// (previousEventId); lastEvent is the highest ID of the events the
	// scope recorded or replayed.
	lastID    int64
	lastEvent int64
	// lastTime is the timestamp of event lastEvent.
	lastTime time.Time
	// visits counts the entries into each state so far; with the attempt
	// of a retried Map or Parallel it names the child scopes, which are
	// therefore the same when the history is walked again.
	visits map[string]int
	// visiting is the state visit under way, whose entry event learns
	// its ID when flushed.
	visiting *visit
	// started, when set, is called at the first flush: the scope has
	// reached its first action (see parallelAttempt).
	started func()
	// wanted are queued events whose IDs someone waits to learn.
	wanted []wantedID
}

// wantedID asks for the ID of pending event at, once it is numbered.
type wantedID struct {
	at  int
	dst *int64
}

// emitID queues a new event like emit and has its ID written to dst
// when it is made durable.
func (s *scope) emitID(t EventType, details, resume any, dst *int64) Event {
	e := s.emit(t, details, resume)
	if len(s.pending) == 0 {
		// emit flushed a full queue, this event last.
		*dst = s.lastEvent
		return e
	}
	s.wanted = append(s.wanted, wantedID{at: len(s.pending) - 1, dst: dst})
	return e
}

func (x *execution) newScope(name string, prevID int64) *scope {
	return &scope{run: x, name: name, rec: x.recorded[name], lastID: prevID}
}

// childName names the scope of iteration or branch index of a Map or
// Parallel state's visit and attempt.
func childName(parent, stateName string, visit, attempt, index int) string {
	var b strings.Builder
	b.Grow(len(parent) + len(stateName) + 16)
	b.WriteString(parent)
	b.WriteByte('/')
	b.WriteString(stateName)
	b.WriteByte('@')
	b.WriteString(strconv.Itoa(visit))
	b.WriteByte('.')
	b.WriteString(strconv.Itoa(attempt))
	b.WriteByte('#')
	b.WriteString(strconv.Itoa(index))
	return b.String()
}

// replay returns the next recorded event when it has type t, consuming it.
func (s *scope) replay(t EventType) (Event, bool) {
	if s.pos >= len(s.rec) || s.rec[s.pos].Type != t {
		return Event{}, false
	}
	e := s.rec[s.pos]
	s.pos++
	s.consumed(e)
	return e, true
}

// consumed links the scope's next event to recorded event e as the
// original walk did. Only a later event moves the link: after a redrive,
// the events of the first run that a scope walks through again come
// before those it recorded anew.
func (s *scope) consumed(e Event) {
	if linksFrom(e.Type) && e.ID > s.lastID {
		s.lastID = e.ID
	}
	if e.ID > s.lastEvent {
		s.lastEvent, s.lastTime = e.ID, e.Timestamp
	}
}

// peek returns the next recorded event without consuming it.
func (s *scope) peek() (Event, bool) {
	if s.pos >= len(s.rec) {
		return Event{}, false
	}
	return s.rec[s.pos], true
}

// replaying reports whether recorded events remain.
func (s *scope) replaying() bool { return s.pos < len(s.rec) }

// diverge drops what remains of the recorded events once the walk no
// longer matches them (a definition changed under a running execution):
// from here on the scope acts and records afresh.
func (s *scope) diverge(want EventType) {
	if s.pos < len(s.rec) {
		got := s.rec[s.pos]
		s.run.log.Warn("execution history does not match the definition; continuing without it",
			"execution", s.run.ex.ID, "scope", s.name, "event", got.ID, "recorded", got.Type, "expected", want)
		s.rec = s.rec[:s.pos]
	}
}

// emit queues a new event; it becomes durable at the next flush. When
// the recorded history still has events here, the walk has diverged.
func (s *scope) emit(t EventType, details any, resume any) Event {
	if s.replaying() {
		s.diverge(t)
	}
	return s.emitRaw(t, details, resume)
}

// emitRaw queues a new event whatever the recorded history holds.
func (s *scope) emitRaw(t EventType, details any, resume any) Event {
	e := Event{Timestamp: s.run.clock.Now(), Type: t, Scope: s.name}
	if details != nil {
		e.Details = mustJSON(details)
	}
	if resume != nil {
		e.Resume = mustJSON(resume)
	}
	s.pending = append(s.pending, e)
	if len(s.pending) >= maxPending {
		// A long run of states without effects (a Pass and Choice loop)
		// still reaches the journal in bounded batches. An error stays
		// with the writer and stops the scope at its next flush.
		_ = s.flush(context.Background())
	}
	return e
}

// maxPending bounds the events a scope gathers before it flushes.
const maxPending = 1024

// flush makes the queued events durable. Every action with an effect
// outside the history (invoking a task, waiting, starting iterations,
// handing a result to the parent scope) flushes first.
func (s *scope) flush(ctx context.Context) error {
	if len(s.pending) == 0 {
		return nil
	}
	src, err := s.run.w.submit(ctx, s.lastID, s.pending)
	if err != nil {
		return &stopError{err: err}
	}
	s.lastID = src
	s.lastEvent = s.pending[len(s.pending)-1].ID
	s.lastTime = s.pending[len(s.pending)-1].Timestamp
	if s.visiting != nil && s.visiting.enteredAt >= 0 && s.visiting.enteredAt < len(s.pending) {
		// The writer may have moved the time on, as it is recorded.
		e := s.pending[s.visiting.enteredAt]
		s.visiting.entered.ID, s.visiting.entered.Timestamp = e.ID, e.Timestamp
		s.visiting.enteredAt = -1
	}
	for _, w := range s.wanted {
		*w.dst = s.pending[w.at].ID
	}
	s.wanted = s.wanted[:0]
	s.pending = s.pending[:0]
	s.startedNow()
	return nil
}

// step consumes the recorded event of type t, or emits a new one with
// the details and resume data the functions build (either may be nil).
func (s *scope) step(t EventType, details func() any, resume func() any) {
	if _, ok := s.replay(t); ok {
		return
	}
	var d, r any
	if details != nil {
		d = details()
	}
	if resume != nil {
		r = resume()
	}
	s.emit(t, d, r)
}

func mustJSON(v any) json.RawMessage {
	b, err := marshalJSON(v)
	if err != nil {
		// Values come from encoding/json or are built here; a value that
		// cannot be encoded is a bug, not an input error.
		panic("workflow: cannot encode event details: " + err.Error())
	}
	return b
}

// jsonString is a value encoded as JSON text, the form events hold
// inputs and outputs in: object members in order, <, > and & as they are.
func jsonString(v any) string {
	b, err := jsonvalue.Marshal(v)
	if err != nil {
		panic("workflow: cannot encode a value: " + err.Error())
	}
	return string(b)
}

// startedNow reports the scope's first action, once.
func (s *scope) startedNow() {
	if s.started != nil {
		s.started()
		s.started = nil
	}
}
