package trigger

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Clock is where the Scheduler reads the time and sleeps: SystemClock in
// the server, a FakeClock in tests that move time by hand.
type Clock interface {
	Now() time.Time
	// After sends the time on the channel once d has passed (at once
	// when d <= 0). A channel not read is dropped without leaking.
	After(d time.Duration) <-chan time.Time
}

// SystemClock is the machine's clock.
type SystemClock struct{}

// Now implements Clock.
func (SystemClock) Now() time.Time { return time.Now() }

// After implements Clock.
func (SystemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// FakeClock is a Clock whose time stands still until Set or Advance moves
// it; then every After whose time has come sends. It is safe for
// concurrent use, and its zero value is a clock at the zero time.
// Tests of code that sleeps on a Clock call BlockUntil to wait until that
// code is asleep before moving the time.
type FakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
	// added is closed and replaced whenever a waiter is added, so that
	// BlockUntil wakes without polling.
	added chan struct{}
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

// NewFakeClock returns a FakeClock at now.
func NewFakeClock(now time.Time) *FakeClock { return &FakeClock{now: now} }

// Now implements Clock.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After implements Clock: the channel sends when the clock is moved to
// now+d or later.
func (c *FakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	// Buffered, so that moving the clock never blocks on a waiter that
	// stopped listening.
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, fakeWaiter{at: c.now.Add(d), ch: ch})
	if c.added != nil {
		close(c.added)
		c.added = nil
	}
	return ch
}

// Advance moves the clock d forward.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.set(c.now.Add(d))
}

// Set moves the clock to t, forward or (as a wall clock corrected by hand
// may) back; waiters whose time is t or earlier send, earliest first.
func (c *FakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.set(t)
}

func (c *FakeClock) set(t time.Time) {
	c.now = t
	slices.SortStableFunc(c.waiters, func(a, b fakeWaiter) int { return a.at.Compare(b.at) })
	n := 0
	for _, w := range c.waiters {
		if w.at.After(t) {
			break
		}
		w.ch <- t
		n++
	}
	c.waiters = slices.Delete(c.waiters, 0, n)
}

// Waiting returns how many After channels have not sent yet, including
// those their caller stopped listening to.
func (c *FakeClock) Waiting() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}

// BlockUntil returns once at least n After channels are waiting to send,
// or with ctx's error when ctx is done first.
func (c *FakeClock) BlockUntil(ctx context.Context, n int) error {
	for {
		c.mu.Lock()
		if len(c.waiters) >= n {
			c.mu.Unlock()
			return nil
		}
		if c.added == nil {
			c.added = make(chan struct{})
		}
		added := c.added
		c.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-added:
		}
	}
}
