package workflow

import (
	"context"
	"errors"
	"fmt"
	"sync"
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

// countingMemory is a MemoryJournal that counts its Appends.
type countingMemory struct {
	*MemoryJournal
	mu      sync.Mutex
	appends int
}

func (c *countingMemory) Append(ctx context.Context, id string, events []Event) error {
	c.mu.Lock()
	c.appends++
	c.mu.Unlock()
	return c.MemoryJournal.Append(ctx, id, events)
}

// Scopes submitting at once share Appends, and each submit returns only
// once its own events are in the journal.
func TestWriterGroupsConcurrentScopes(t *testing.T) {
	j := &countingMemory{MemoryJournal: NewMemoryJournal()}
	w := &writer{journal: j, id: "e", nextID: 1}
	const scopes, each = 100, 20
	var wg sync.WaitGroup
	errs := make(chan error, scopes)
	for range scopes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				events := []Event{{Type: MapIterationStarted}, {Type: PassStateEntered}, {Type: PassStateExited}, {Type: MapIterationSucceeded}}
				if _, err := w.submit(context.Background(), 0, events); err != nil {
					errs <- err
					return
				}
				// IDs are consecutive from 1 and the journal checks that
				// they continue its history: holding the last is holding all.
				j.MemoryJournal.mu.Lock()
				n := len(j.MemoryJournal.history["e"])
				j.MemoryJournal.mu.Unlock()
				if last := events[len(events)-1].ID; int64(n) < last {
					errs <- fmt.Errorf("submit of events %d-%d returned with %d events journaled", events[0].ID, last, n)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := len(j.History("e")); n != scopes*each*4 {
		t.Fatalf("%d events journaled, want %d", n, scopes*each*4)
	}
	// One Append per submit is what the writer did when the scope leading
	// the flushes took its batch before the others could queue.
	t.Logf("%d Appends for %d submits", j.appends, scopes*each)
	if j.appends > scopes*each/4 {
		t.Errorf("%d Appends for %d submits from %d scopes at once", j.appends, scopes*each, scopes)
	}
}

// An Append that fails fails every submit of its batch, and every later
// one, with nothing more written.
func TestWriterErrorReachesEverySubmitter(t *testing.T) {
	j := NewMemoryJournal()
	full := errors.New("no space left on device")
	release := make(chan struct{})
	j.Fail = func(string, []Event) error {
		<-release // hold the first Append until every scope has queued
		return full
	}
	w := &writer{journal: j, id: "e", nextID: 1}
	const scopes = 50
	var wg sync.WaitGroup
	errs := make([]error, scopes)
	for i := range scopes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = w.submit(context.Background(), 0, []Event{{Type: PassStateEntered}})
		}()
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, full) {
			t.Errorf("scope %d: %v, want the Append's error", i, err)
		}
	}
	if _, err := w.submit(context.Background(), 0, []Event{{Type: PassStateExited}}); !errors.Is(err, full) {
		t.Errorf("a later submit: %v", err)
	}
	if h := j.History("e"); len(h) != 0 {
		t.Errorf("%d events journaled after the failure", len(h))
	}
}

// gatedJournal holds each Append until the test lets it through.
type gatedJournal struct {
	*MemoryJournal
	started chan int      // the number of events of each Append begun
	gate    chan struct{} // one receive lets one Append through
}

func (g gatedJournal) Append(ctx context.Context, id string, events []Event) error {
	g.started <- len(events)
	<-g.gate
	return g.MemoryJournal.Append(ctx, id, events)
}

// The scope leading the flushes goes back to its work once its own batch
// is durable, handing the lead to a scope that queued meanwhile, rather
// than appending the others' batches for as long as they come.
func TestWriterLeaderGoesBackToWork(t *testing.T) {
	j := gatedJournal{MemoryJournal: NewMemoryJournal(), started: make(chan int), gate: make(chan struct{})}
	w := &writer{journal: j, id: "e", nextID: 1}
	submit := func() chan error {
		done := make(chan error, 1)
		go func() {
			_, err := w.submit(context.Background(), 0, []Event{{Type: PassStateEntered}})
			done <- err
		}()
		return done
	}
	a := submit()
	<-j.started // a leads; its Append waits at the gate
	b := submit()
	time.Sleep(20 * time.Millisecond) // b queues behind it
	j.gate <- struct{}{}              // a's Append completes
	<-j.started                       // the next Append, b's, begins and waits
	select {
	case err := <-a:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the leading scope is still appending another scope's batch")
	}
	j.gate <- struct{}{}
	if err := <-b; err != nil {
		t.Fatal(err)
	}
	if h := j.History("e"); len(h) != 2 {
		t.Errorf("%d events journaled, want 2", len(h))
	}
}
