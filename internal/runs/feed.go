package runs

import (
	"context"
	"sync"
	"time"
)

// feed is the event stream of a run executing in this process. It keeps
// every event of the run, so that a watcher who arrives late reads the
// same sequence from the start as one who was there, and a slow watcher
// delays only itself: nothing is dropped, and the hand-over from history
// to live events is a position in one slice, so nothing is seen twice.
type feed struct {
	runID  int64
	mu     sync.Mutex
	events []Event
	closed bool
	// changed is closed and replaced whenever events grow or the feed
	// closes, waking every watcher.
	changed chan struct{}
}

func newFeed(runID int64) *feed {
	return &feed{runID: runID, changed: make(chan struct{})}
}

// emit appends an event, numbering and timing it. Events after close are
// dropped: the stream has ended for every watcher.
func (f *feed) emit(e Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	e.Seq = Cursor(len(f.events) + 1)
	e.RunID = f.runID
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	f.events = append(f.events, e)
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
	if int(c) < len(f.events) {
		return f.events[max(c, 0):], nil, false
	}
	return nil, f.changed, f.closed
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
					c = e.Seq
				case <-ctx.Done():
					return
				}
			}
			if done {
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
