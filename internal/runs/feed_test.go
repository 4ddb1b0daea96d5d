package runs

import (
	"context"
	"fmt"
	"testing"
)

// TestFeedKeepsItsHistoryBounded: past its bound a feed forgets its oldest
// events; a watcher who keeps up still sees all of them, one who comes
// late gets the run's shape, a warning, and what is kept.
func TestFeedKeepsItsHistoryBounded(t *testing.T) {
	f := newFeed(7, 10_000)
	ctx := context.Background()
	f.emit(Event{Kind: KindRunStarted, RunStarted: &RunStarted{Project: "p"}})
	early := f.watch(ctx, 0, false)
	var got []Event
	for i := range 1000 {
		f.emit(Event{Kind: KindOutput, Output: &Output{Action: "a/b", Text: fmt.Sprint("line ", i)}})
		if i%10 == 0 {
			// The early watcher keeps up.
			for len(got) < i+1 {
				got = append(got, <-early)
			}
		}
	}
	f.close()
	for e := range early {
		got = append(got, e)
	}
	if len(got) != 1001 {
		t.Fatalf("the watcher that kept up got %d events, want 1001", len(got))
	}
	for i, e := range got {
		if e.Seq != Cursor(i+1) {
			t.Fatalf("event %d has seq %d", i, e.Seq)
		}
	}

	var late []Event
	for e := range f.watch(ctx, 0, false) {
		late = append(late, e)
	}
	if late[0].RunStarted == nil || late[1].Message == nil || late[1].Message.Level != "warning" {
		t.Fatalf("a late watcher starts with %+v, %+v", late[0], late[1])
	}
	kept := late[2:]
	if len(kept) == 0 || len(kept) > 100 || kept[len(kept)-1].Output.Text != "line 999" {
		t.Errorf("a late watcher got %d kept events", len(kept))
	}
	for i := 1; i < len(kept); i++ {
		if kept[i].Seq != kept[i-1].Seq+1 {
			t.Fatalf("kept events skip from %d to %d", kept[i-1].Seq, kept[i].Seq)
		}
	}
	if late[1].Seq != kept[0].Seq-1 {
		t.Errorf("the warning has seq %d, the first kept event %d", late[1].Seq, kept[0].Seq)
	}
}

// TestFollowerHoldsTheRunBackInsteadOfLosingEvents: a follower slower
// than the run loses nothing however small the history; the run waits.
func TestFollowerHoldsTheRunBackInsteadOfLosingEvents(t *testing.T) {
	f := newFeed(7, 1000)
	ctx := context.Background()
	f.emit(Event{Kind: KindRunStarted, RunStarted: &RunStarted{Project: "p"}})
	events := f.watch(ctx, 0, true)
	go func() {
		for i := range 5000 {
			f.emit(Event{Kind: KindOutput, Output: &Output{Action: "a/b", Text: fmt.Sprint("line ", i)}})
		}
		f.close()
	}()
	n := 0
	for e := range events {
		n++
		if e.Seq != Cursor(n) || e.Message != nil {
			t.Fatalf("event %d: %+v", n, e)
		}
	}
	if n != 5001 {
		t.Errorf("the follower got %d events, want 5001", n)
	}
}
