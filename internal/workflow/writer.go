package workflow

import (
	"context"
	"runtime"
	"sync"
	"time"
)

// writer is an execution's single path to the Journal. Scopes (the top
// level, each Map iteration, each Parallel branch) hand it batches of
// events; it numbers them and appends them, gathering the batches handed
// in while an Append is under way into the next one (group commit), so a
// Map with 100 iterations in flight costs a few Appends, not 100.
type writer struct {
	journal Journal
	id      string

	mu     sync.Mutex
	nextID int64
	// lastTime is the latest timestamp given out: events are numbered
	// here, and stamped no earlier than the event before them, so time
	// never goes backwards as IDs go up (scopes take the time when they
	// queue an event, concurrently).
	lastTime time.Time
	queue    []Event
	waiters  []chan flushed
	// batchLen and batchWaiters are the size of the last batch taken,
	// which the next queue is made room for at once: grown by doubling,
	// the queue was a fifth of the bytes a journaled Map allocated.
	batchLen, batchWaiters int
	// flushing is set while a scope leads: gathers a batch, appends it and
	// tells its scopes.
	flushing bool
	// err is the first Append error: every later batch fails with it
	// unwritten, so the stored history has no gaps.
	err error
}

// submit numbers events, links them (see linksFrom) starting from the
// source event prev, makes them durable and returns the source the
// scope's next event links from.
func (w *writer) submit(ctx context.Context, prev int64, events []Event) (int64, error) {
	done := make(chan flushed, 1)
	w.mu.Lock()
	if w.err != nil {
		w.mu.Unlock()
		return prev, w.err
	}
	src := prev
	for i := range events {
		events[i].ID = w.nextID
		w.nextID++
		events[i].PreviousEventID = src
		if events[i].Timestamp.Before(w.lastTime) {
			events[i].Timestamp = w.lastTime
		}
		w.lastTime = events[i].Timestamp
		if linksFrom(events[i].Type) {
			src = events[i].ID
		}
	}
	if w.queue == nil {
		w.queue = make([]Event, 0, max(w.batchLen, len(events)))
		w.waiters = make([]chan flushed, 0, max(w.batchWaiters, 1))
	}
	w.queue = append(w.queue, events...)
	w.waiters = append(w.waiters, done)
	if w.flushing {
		w.mu.Unlock()
		f := <-done
		if f.lead {
			w.mu.Lock()
			w.flush(ctx)
			f = <-done
		}
		return src, f.err
	}
	w.flushing = true
	w.flush(ctx)
	return src, (<-done).err
}

// flushed tells a waiting scope that its events were appended (err nil)
// or not, or first that it leads the next flush.
type flushed struct {
	err  error
	lead bool
}

// flush appends one batch, the leading scope's events in it, tells its
// scopes, and passes the lead to the first scope queued meanwhile: each
// scope goes back to its work once its own events are durable, and none
// is kept appending others' batches while a Map streams through. Called
// with mu held and flushing set; returns with mu released.
func (w *writer) flush(ctx context.Context) {
	w.gather()
	batch, waiters := w.queue, w.waiters
	w.queue, w.waiters = nil, nil
	w.batchLen, w.batchWaiters = len(batch), len(waiters)
	err := w.err
	w.mu.Unlock()
	// Appends are not cancelled with the caller's context: a batch
	// gathered from several scopes must not be lost because one of
	// them stopped waiting.
	if err == nil {
		err = w.journal.Append(context.WithoutCancel(ctx), w.id, batch)
	}
	w.mu.Lock()
	if err != nil && w.err == nil {
		w.err = err
	}
	for _, c := range waiters {
		c <- flushed{err: err}
	}
	if len(w.waiters) == 0 {
		w.flushing = false
		w.mu.Unlock()
		return
	}
	next := w.waiters[0]
	w.mu.Unlock()
	next <- flushed{lead: true}
}

// gather lets the scopes that are ready to run queue their events
// before a batch is taken. Without it the scope that leads the flushes,
// having just released the scopes of the previous batch, keeps its
// processor, takes a batch of its own events alone and commits it, while
// the released scopes wait runnable behind it: a Map with 100 iterations
// in flight paid a commit per iteration, not per round of them. It
// yields until a yield brings no new events, which costs a lone scope
// one yield, and no timer. Called with mu held.
func (w *writer) gather() {
	for range maxYields {
		n := len(w.queue)
		w.mu.Unlock()
		runtime.Gosched()
		w.mu.Lock()
		if len(w.queue) == n {
			return
		}
	}
}

// maxYields bounds gather's yields, so that scopes arriving without end
// cannot hold a batch back.
const maxYields = 8

// linksFrom reports whether the events after one of type t in its scope
// name it as their previousEventId, as Step Functions links them. The
// events that close something (ExecutionStarted for the top level, an
// iteration's end, a Map's or Parallel's success) are not: in the
// recorded histories the next event points past them, at the last event
// of the work they close (the first state's entry has previousEventId 0,
// the next MapIterationStarted the previous iteration's last state event,
// MapStateExited the last MapIterationSucceeded).
func linksFrom(t EventType) bool {
	switch t {
	case ExecutionStarted, MapIterationSucceeded, MapIterationFailed, MapIterationAborted,
		MapStateSucceeded, ParallelStateSucceeded:
		return false
	}
	return true
}
