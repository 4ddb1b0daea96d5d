package runs

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// defaultHistory bounds the bytes of events a run keeps for late
// watchers: a test suite printing gigabytes must not make velocity hold
// them all. Beyond it the oldest events go; a watcher that asks for them
// gets a message saying where the whole logs are.
const defaultHistory = 16 << 20

// followLag is how many events a follower may be behind before the run
// waits for it, as it waits for a terminal that is slow to print.
const followLag = 1024

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
	// followers are the watchers the run waits for; moved is signalled
	// when one of them takes an event or goes.
	followers []*follower
	moved     *sync.Cond
	// changed is closed and replaced when events grow or the feed
	// closes while a watcher waits (waited), waking every watcher.
	changed chan struct{}
	waited  bool
}

func newFeed(runID int64, history int) *feed {
	if history <= 0 {
		history = defaultHistory
	}
	f := &feed{runID: runID, history: history, changed: make(chan struct{})}
	f.moved = sync.NewCond(&f.mu)
	return f
}

// follower is a watcher whose position holds the run back.
type follower struct{ cursor Cursor }

// eventSize is about what an event holds in memory.
func eventSize(e Event) int {
	n := 256
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
	// Events a follower has yet to take stay whatever the bound: it
	// is at most followLag events behind.
	for f.size > f.history && len(f.events) > 1 && f.taken(f.events[0].Seq) {
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
	if f.waited {
		close(f.changed)
		f.changed = make(chan struct{})
		f.waited = false
	}
	// A follower far behind holds the run (its output) back until it
	// catches up, so that it loses nothing and memory stays bounded.
	for f.behind(e.Seq) && !f.closed {
		f.moved.Wait()
	}
}

// taken reports whether every follower has taken event seq.
func (f *feed) taken(seq Cursor) bool {
	for _, w := range f.followers {
		if w.cursor < seq {
			return false
		}
	}
	return true
}

func (f *feed) behind(seq Cursor) bool {
	for _, w := range f.followers {
		if seq-w.cursor > followLag {
			return true
		}
	}
	return false
}

// took records that follower w has taken the events up to c.
func (f *feed) took(w *follower, c Cursor) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.cursor = c
	f.moved.Broadcast()
}

// unfollow forgets follower w, which holds the run back no more.
func (f *feed) unfollow(w *follower) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.followers = slices.DeleteFunc(f.followers, func(x *follower) bool { return x == w })
	f.moved.Broadcast()
}

// close ends the stream; watchers get what is left, then their channel
// closes.
func (f *feed) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed {
		f.closed = true
		close(f.changed)
		f.moved.Broadcast()
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
	f.waited = true
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
// closes or ctx ends. A following watcher holds the run back when it is
// far behind, instead of losing the oldest events.
func (f *feed) watch(ctx context.Context, from Cursor, follow bool) <-chan Event {
	out := make(chan Event, 64)
	var w *follower
	if follow {
		w = &follower{cursor: from}
		f.mu.Lock()
		f.followers = append(f.followers, w)
		f.mu.Unlock()
	}
	go func() {
		defer close(out)
		if w != nil {
			defer f.unfollow(w)
		}
		c := from
		for {
			events, wait, done := f.next(c)
			for i, e := range events {
				select {
				case out <- e:
					c = max(c, e.Seq)
					// A follower says where it is now and then, and
					// at the end of what it was given.
					if w != nil && (i%(followLag/4) == 0 || i == len(events)-1) {
						f.took(w, c)
					}
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
