package workflow

import (
	"context"
	"fmt"
	"sync"
)

// MemoryJournal keeps histories in memory, for tests and for runs that
// need no durability. Safe for concurrent use.
type MemoryJournal struct {
	mu      sync.Mutex
	history map[string][]Event
	// Fail, when set, is called before each Append with the events about
	// to be stored; a non-nil error is returned and nothing is stored.
	// Tests use it to cut a history at a chosen point.
	Fail func(executionID string, events []Event) error
}

var _ Journal = (*MemoryJournal)(nil)

// NewMemoryJournal returns an empty journal.
func NewMemoryJournal() *MemoryJournal {
	return &MemoryJournal{history: map[string][]Event{}}
}

// Append stores events after checking that their IDs continue the history.
func (j *MemoryJournal) Append(_ context.Context, executionID string, events []Event) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.Fail != nil {
		if err := j.Fail(executionID, events); err != nil {
			return err
		}
	}
	if j.history == nil {
		j.history = map[string][]Event{}
	}
	h := j.history[executionID]
	next := int64(1)
	if len(h) > 0 {
		next = h[len(h)-1].ID + 1
	}
	for _, e := range events {
		if e.ID != next {
			return fmt.Errorf("append to execution %s: event ID %d, want %d", executionID, e.ID, next)
		}
		next++
	}
	j.history[executionID] = append(h, events...)
	return nil
}

// History returns a copy of an execution's events.
func (j *MemoryJournal) History(executionID string) []Event {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]Event(nil), j.history[executionID]...)
}
