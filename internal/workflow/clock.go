package workflow

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// Clock tells the time and waits. The interpreter takes every timestamp,
// Wait, retry delay, timeout and heartbeat deadline from it. Safe for
// concurrent use.
type Clock interface {
	Now() time.Time
	// Sleep returns after d, or earlier with ctx's error when ctx is done.
	Sleep(ctx context.Context, d time.Duration) error
}

// RealClock is the wall clock.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// Sleep waits d on a timer.
func (RealClock) Sleep(ctx context.Context, d time.Duration) error { return sleep(ctx, d) }

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// FakeClock is virtual time starting at a chosen instant, for tests that
// check Wait, Retry and timeout timing. It is meant to run inside a
// testing/synctest bubble (synctest.Test): there time passes only when
// every goroutine of the bubble is blocked, instantly and in a
// deterministic order, so a Retry's 2 s interval takes no real time and
// Now reports exactly start + 2 s. Outside a bubble it sleeps for real.
// Create it inside the bubble.
type FakeClock struct {
	start time.Time
	base  time.Time
}

// NewFakeClock returns a clock reading start now.
func NewFakeClock(start time.Time) *FakeClock {
	return &FakeClock{start: start, base: time.Now()}
}

// Now returns start plus the time passed since NewFakeClock.
func (c *FakeClock) Now() time.Time { return c.start.Add(time.Since(c.base)) }

// Elapsed returns the time passed since NewFakeClock.
func (c *FakeClock) Elapsed() time.Duration { return time.Since(c.base) }

// Sleep waits d of the bubble's time.
func (c *FakeClock) Sleep(ctx context.Context, d time.Duration) error { return sleep(ctx, d) }

// Rand is the random source of JitterStrategy FULL; Float64 returns a
// number in [0, 1). It must be safe for concurrent use.
type Rand interface {
	Float64() float64
}

// SeededRand is a deterministic Rand for tests, safe for concurrent use.
type SeededRand struct {
	mu sync.Mutex
	r  *rand.Rand
}

// NewSeededRand returns a Rand whose sequence depends only on seed.
func NewSeededRand(seed uint64) *SeededRand {
	return &SeededRand{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// Float64 returns the next number of the sequence.
func (s *SeededRand) Float64() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.r.Float64()
}

// globalRand is the default Rand: math/rand/v2's goroutine-safe source.
type globalRand struct{}

func (globalRand) Float64() float64 { return rand.Float64() }
