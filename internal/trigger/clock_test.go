package trigger_test

import (
	"context"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/trigger"
)

func sent(ch <-chan time.Time) (time.Time, bool) {
	select {
	case v := <-ch:
		return v, true
	default:
		return time.Time{}, false
	}
}

func TestFakeClock(t *testing.T) {
	t0 := utc("2026-12-07 00:00")
	c := trigger.NewFakeClock(t0)
	now := c.After(0)
	if v, ok := sent(now); !ok || !v.Equal(t0) {
		t.Errorf("After(0) sent %v %v, want the time at once", v, ok)
	}
	soon, later := c.After(time.Minute), c.After(time.Hour)
	if c.Waiting() != 2 {
		t.Fatalf("%d waiting, want 2", c.Waiting())
	}
	c.Advance(30 * time.Second)
	if _, ok := sent(soon); ok {
		t.Error("a minute's After sent after 30s")
	}
	c.Advance(30 * time.Second)
	if v, ok := sent(soon); !ok || !v.Equal(t0.Add(time.Minute)) {
		t.Errorf("a minute's After after a minute: %v %v", v, ok)
	}
	// A clock set back wakes nobody; set forward past a waiter, it
	// sends the time it was set to.
	c.Set(t0)
	if _, ok := sent(later); ok || c.Waiting() != 1 {
		t.Error("an hour's After sent when the clock went back")
	}
	c.Set(t0.Add(2 * time.Hour))
	if v, ok := sent(later); !ok || !v.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("an hour's After after two: %v %v", v, ok)
	}
	if !c.Now().Equal(t0.Add(2 * time.Hour)) {
		t.Errorf("now %v", c.Now())
	}
}

func TestFakeClockBlockUntil(t *testing.T) {
	c := trigger.NewFakeClock(utc("2026-12-07 00:00"))
	done := make(chan error, 1)
	go func() { done <- c.BlockUntil(context.Background(), 2) }()
	c.After(time.Second)
	c.After(time.Second)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.BlockUntil(ctx, 3); err == nil {
		t.Error("BlockUntil with a cancelled context returned nil while 2 were waiting")
	}
	var zero trigger.FakeClock
	if !zero.Now().IsZero() || zero.Waiting() != 0 {
		t.Error("a zero FakeClock is not at the zero time with nobody waiting")
	}
}
