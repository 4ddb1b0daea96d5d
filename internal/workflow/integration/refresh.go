package integration

import (
	"context"
	"sync"
	"time"
)

// refreshWindow is how long before they expire temporary credentials
// are fetched again, so that a request signed with them does not reach
// AWS after they expired.
const refreshWindow = 5 * time.Minute

// failedFetchPause is how long a failed fetch is reported again before
// the endpoint is asked once more: tasks that run at once then wait for
// one answer instead of each asking a silent endpoint in turn.
const failedFetchPause = 10 * time.Second

// refresher caches credentials that expire (from the container
// credentials endpoint, from instance metadata) and fetches them again
// shortly before they do. Safe for concurrent use: one fetch at a time,
// and the others wait for its result.
type refresher struct {
	// fetch gets fresh credentials and when they expire (zero: never).
	fetch func(context.Context) (credentials, time.Time, error)
	// now is the clock; time.Now when nil.
	now func() time.Time

	mu      sync.Mutex
	creds   credentials
	expires time.Time // zero: never, once fetched
	fetched bool
	err     error     // the last failure, reported until retryAt
	retryAt time.Time // when a failed fetch may be made again
}

// get returns credentials valid for at least refreshWindow when the
// endpoint gives them; cached credentials that have not yet expired are
// used when fetching fresh ones fails.
func (r *refresher) get(ctx context.Context) (credentials, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now
	if r.now != nil {
		now = r.now
	}
	t := now()
	valid := r.fetched && (r.expires.IsZero() || t.Before(r.expires))
	if valid && (r.expires.IsZero() || t.Before(r.expires.Add(-refreshWindow))) {
		return r.creds, nil
	}
	if r.err != nil && t.Before(r.retryAt) {
		if valid {
			return r.creds, nil
		}
		return credentials{}, r.err
	}
	creds, expires, err := r.fetch(ctx)
	if err != nil {
		if ctx.Err() == nil { // a cancelled task says nothing about the endpoint
			r.err, r.retryAt = err, t.Add(failedFetchPause)
		}
		if valid {
			return r.creds, nil
		}
		return credentials{}, err
	}
	r.creds, r.expires, r.fetched, r.err = creds, expires, true, nil
	return creds, nil
}
