package runs

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// defaultHistory bounds the bytes of events a run keeps for late
// watchers: a test suite printing gigabytes must not make velocity hold
// them all. Beyond it the oldest events go; a watcher that asks for them
// gets a message saying where the whole logs are.
const defaultHistory = 64 << 20

// feed is the event stream of a run executing in this process. It keeps
// the run's events (up to its history bound), so that a watcher who
// arrives late reads the same sequence from the start as one who was
// there, and a slow watcher delays only itself: nothing is dropped, and
// the hand-over from history to live events is a position in one slice,
// so nothing is seen twice.
type feed struct {
	runID   int64
	history int
	mu      sync.Mutex
	// events are the kept events, events[i].Seq == dropped+i+1.
	events  []Event
	dropped int
	size    int
	// started is the run_started event, kept when its turn to go came:
	// without it a late watcher could not render the rest.
	started *Event
	closed  bool
	// changed is closed and replaced whenever events grow or the feed
	// closes, waking every watcher.
	changed chan struct{}
}

func newFeed(runID int64, history int) *feed {
	if history <= 0 {
		history = defaultHistory
	}
	return &feed{runID: runID, history: history, changed: make(chan struct{})}
}

// eventSize is about what an event holds in memory.
func eventSize(e Event) int {
	n := 128
	switch {
	case e.Output != nil:
		n += len(e.Output.Text) + len(e.Output.Action)
	case e.Message != nil:
		n += len(e.Message.Text)
	case e.RunStarted != nil:
		n += 4096
	}
	return n
}

// emit appends an event, numbering and timing it. Events after close are
// dropped: the stream has ended for every watcher.
func (f *feed) emit(e Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	e.Seq = Cursor(f.dropped + len(f.events) + 1)
	e.RunID = f.runID
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	f.events = append(f.events, e)
	f.size += eventSize(e)
	for f.size > f.history && len(f.events) > 1 {
		old := f.events[0]
		if old.RunStarted != nil {
			f.started = &old
		}
		// Watchers may hold the slice: the event is left as it is, and
		// the array it is in goes when append moves the kept ones.
		f.events = f.events[1:]
		f.size -= eventSize(old)
		f.dropped++
	}
	close(f.changed)
	f.changed = make(chan struct{})
}

// close ends the stream; watchers get what is left, then their channel
// closes.
func (f *feed) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed {
		f.closed = true
		close(f.changed)
	}
}

// next returns the events after c, or a channel that is closed when there
// are more; done reports that there will be none.
func (f *feed) next(c Cursor) (events []Event, wait <-chan struct{}, done bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c = max(c, 0)
	if int(c) < f.dropped {
		return f.gap(c), nil, false
	}
	if i := int(c) - f.dropped; i < len(f.events) {
		return f.events[i:], nil, false
	}
	return nil, f.changed, f.closed
}

// gap stands for the events no longer kept after c: the run_started
// event when c is before it, and a message that ends where the kept
// events begin.
func (f *feed) gap(c Cursor) []Event {
	var out []Event
	if f.started != nil && c < f.started.Seq {
		out = append(out, *f.started)
	}
	last := Cursor(f.dropped)
	out = append(out, Event{Seq: last, RunID: f.runID, Time: time.Now(), Kind: KindMessage, Message: &Message{
		Level: "warning",
		Text:  fmt.Sprintf("%d earlier events of run %d are no longer kept in memory; the actions' logs have all their output", int(last-c), f.runID),
	}})
	return out
}

// watch delivers the events after from on a channel until the feed
// closes or ctx ends.
func (f *feed) watch(ctx context.Context, from Cursor) <-chan Event {
	out := make(chan Event, 64)
	go func() {
		defer close(out)
		c := from
		for {
			events, wait, done := f.next(c)
			for _, e := range events {
				select {
				case out <- e:
					c = max(c, e.Seq)
				case <-ctx.Done():
					return
				}
			}
			if done && len(events) == 0 {
				return
			}
			if wait == nil {
				continue
			}
			select {
			case <-wait:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}
