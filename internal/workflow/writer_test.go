package workflow

import (
	"context"
	"testing"
	"time"
)

// TestWriterTimeNeverGoesBackwards hands the writer batches from two
// scopes whose clocks were read in the other order than their events are
// numbered: the later-numbered events get the later time, so a history
// sorted by time keeps its ID order.
func TestWriterTimeNeverGoesBackwards(t *testing.T) {
	j := NewMemoryJournal()
	w := &writer{journal: j, id: "e", nextID: 1}
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	late := []Event{{Type: TaskStarted, Timestamp: t0.Add(5 * time.Millisecond)}}
	early := []Event{{Type: MapIterationStarted, Timestamp: t0.Add(4 * time.Millisecond)}, {Type: PassStateEntered, Timestamp: t0.Add(6 * time.Millisecond)}}
	if _, err := w.submit(context.Background(), 0, late); err != nil {
		t.Fatal(err)
	}
	if _, err := w.submit(context.Background(), 0, early); err != nil {
		t.Fatal(err)
	}
	h := j.History("e")
	want := []time.Duration{5, 5, 6}
	for i, e := range h {
		if got := e.Timestamp.Sub(t0); got != want[i]*time.Millisecond {
			t.Errorf("event %d stamped +%s, want +%dms", e.ID, got, want[i])
		}
	}
}
