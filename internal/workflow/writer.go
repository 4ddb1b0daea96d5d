package workflow

import (
	"context"
	"sync"
)

// writer is an execution's single path to the Journal. Scopes (the top
// level, each Map iteration, each Parallel branch) hand it batches of
// events; it numbers them and appends them, gathering the batches handed
// in while an Append is under way into the next one (group commit), so a
// Map with 100 iterations in flight costs a few Appends, not 100.
type writer struct {
	journal Journal
	id      string

	mu       sync.Mutex
	nextID   int64
	queue    []Event
	waiters  []chan error
	flushing bool
	// err is the first Append error: every later batch fails with it
	// unwritten, so the stored history has no gaps.
	err error
}

// submit numbers events (chaining PreviousEventID from prev within the
// batch), makes them durable and returns them numbered.
func (w *writer) submit(ctx context.Context, prev int64, events []Event) error {
	done := make(chan error, 1)
	w.mu.Lock()
	if w.err != nil {
		w.mu.Unlock()
		return w.err
	}
	for i := range events {
		events[i].ID = w.nextID
		w.nextID++
		if i == 0 {
			events[i].PreviousEventID = prev
		} else {
			events[i].PreviousEventID = events[i-1].ID
		}
	}
	w.queue = append(w.queue, events...)
	w.waiters = append(w.waiters, done)
	if w.flushing {
		w.mu.Unlock()
		return <-done
	}
	w.flushing = true
	for len(w.queue) > 0 {
		batch, waiters := w.queue, w.waiters
		w.queue, w.waiters = nil, nil
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
			c <- err
		}
	}
	w.flushing = false
	w.mu.Unlock()
	return <-done
}
