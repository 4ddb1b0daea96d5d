package access

import (
	"sync"
	"time"
)

// Limiter is a token bucket per key (a token's name): each key may make
// Burst requests at once and Rate a second after that. The zero Limiter,
// with no Rate, limits nothing. It is safe for concurrent use.
type Limiter struct {
	// Rate is how many requests a second a key may make once its burst
	// is spent.
	Rate float64
	// Burst is how many requests a key may make at once; below 1 is 1.
	Burst int
	// Now is the clock; nil is time.Now.
	Now func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
	// swept is when idle buckets were last dropped.
	swept time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

// Allow takes one request from key's bucket. When it is empty Allow
// returns false and how long until the next request would be allowed.
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	if l == nil || l.Rate <= 0 {
		return true, 0
	}
	now := time.Now()
	if l.Now != nil {
		now = l.Now()
	}
	burst := float64(max(l.Burst, 1))
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buckets == nil {
		l.buckets = map[string]*bucket{}
	}
	l.sweep(now, burst)
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: burst, last: now}
		l.buckets[key] = b
	}
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = min(burst, b.tokens+elapsed.Seconds()*l.Rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / l.Rate * float64(time.Second))
	return false, wait
}

// sweep drops, at most once a minute, the buckets that have refilled: a
// key seen again starts from a full bucket anyway, so forgetting them
// changes no answer, and keys an anonymous caller chooses (its address)
// cannot grow the map without bound.
func (l *Limiter) sweep(now time.Time, burst float64) {
	if now.Sub(l.swept) < time.Minute {
		return
	}
	l.swept = now
	for key, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.Rate >= burst {
			delete(l.buckets, key)
		}
	}
}
