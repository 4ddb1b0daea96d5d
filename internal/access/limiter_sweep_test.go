package access

import (
	"fmt"
	"testing"
	"time"
)

// TestLimiterForgetsRefilledKeys: keys an anonymous caller chooses do not
// grow the limiter for ever, and forgetting changes no answer: a key
// still short of requests stays limited.
func TestLimiterForgetsRefilledKeys(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	l := &Limiter{Rate: 1, Burst: 2, Now: func() time.Time { return now }}
	for i := range 1000 {
		l.Allow(fmt.Sprintf("addr %d", i))
	}
	// "busy" spends its burst just before the sweep.
	now = now.Add(2 * time.Minute)
	l.Allow("busy")
	l.Allow("busy")
	now = now.Add(time.Minute + time.Millisecond)
	l.swept = now.Add(-2 * time.Minute)
	l.buckets["busy"].last = now // spent right now: not refilled
	if ok, _ := l.Allow("other"); !ok {
		t.Fatal("a new key was refused")
	}
	if n := len(l.buckets); n != 2 {
		t.Errorf("%d buckets after the sweep, want 2 (busy and other)", n)
	}
	if ok, _ := l.Allow("busy"); ok {
		t.Error("a key whose burst is spent was let through after the sweep")
	}
}
