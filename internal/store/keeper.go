package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// DefaultLeaseTTL is how long a lease outlives a holder that stopped
// renewing it: how long another node waits before it may take over.
const DefaultLeaseTTL = 30 * time.Second

// KeepOptions tune KeepLease; the zero value is the default.
type KeepOptions struct {
	// TTL is the lease's time to live, renewed every TTL/3 so that two
	// renewals may fail before it lapses. Default DefaultLeaseTTL.
	TTL time.Duration
	// Now and After are the keeper's clock; nil means time.Now and
	// time.After. Tests drive the renewals through them.
	Now   func() time.Time
	After func(time.Duration) <-chan time.Time
}

// KeptLease is a lease that a goroutine renews until Release.
type KeptLease struct {
	leases       Leases
	name, holder string
	ttl          time.Duration
	now          func() time.Time
	after        func(time.Duration) <-chan time.Time

	stop, done, lost chan struct{}
	stopOnce         sync.Once

	mu    sync.Mutex // guards lease and err
	lease Lease
	err   error
}

// KeepLease acquires the lease name for holder and renews it in the
// background until Release. ctx bounds the acquisition only: renewing
// goes on after ctx ends, because work that was cancelled still records
// how it ended while it owns what it records. The error of a lease held
// by another wraps ErrLeaseHeld.
func KeepLease(ctx context.Context, leases Leases, name, holder string, o KeepOptions) (*KeptLease, error) {
	k := &KeptLease{
		leases: leases, name: name, holder: holder,
		ttl: o.TTL, now: o.Now, after: o.After,
		stop: make(chan struct{}), done: make(chan struct{}), lost: make(chan struct{}),
	}
	if k.ttl <= 0 {
		k.ttl = DefaultLeaseTTL
	}
	if k.now == nil {
		k.now = time.Now
	}
	if k.after == nil {
		k.after = time.After
	}
	l, err := leases.AcquireLease(ctx, name, holder, k.ttl, k.now())
	if err != nil {
		return nil, err
	}
	k.lease = l
	go k.renew(context.WithoutCancel(ctx))
	return k, nil
}

func (k *KeptLease) renew(ctx context.Context) {
	defer close(k.done)
	for {
		select {
		case <-k.stop:
			return
		case <-k.after(k.ttl / 3):
		}
		now := k.now()
		l, err := k.leases.RenewLease(ctx, k.name, k.holder, k.ttl, now)
		k.mu.Lock()
		if err == nil {
			k.lease = l
			k.mu.Unlock()
			continue
		}
		// A store that failed to answer gets another chance while the
		// lease lasts; a lease gone to another, or run out, is lost.
		gone := errors.Is(err, ErrLeaseLost) || k.lease.Expired(now)
		if gone {
			k.err = fmt.Errorf("lease %s lost: %w", k.name, err)
		}
		k.mu.Unlock()
		if gone {
			close(k.lost)
			return
		}
	}
}

// Lost is closed when the lease could not be renewed before it expired,
// or was taken over: from then on another holder may own what the lease
// names, and the work should stop. Err says why.
func (k *KeptLease) Lost() <-chan struct{} { return k.lost }

// Err is why the lease was lost, nil while it is kept.
func (k *KeptLease) Err() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.err
}

// Lease is the lease as last acquired or renewed.
func (k *KeptLease) Lease() Lease {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.lease
}

// Release stops renewing and gives the lease up, so that another holder
// need not wait for it to expire. Releasing a lease that was lost is not
// an error; releasing twice is.
func (k *KeptLease) Release(ctx context.Context) error {
	k.stopOnce.Do(func() { close(k.stop) })
	<-k.done
	err := k.leases.ReleaseLease(ctx, k.name, k.holder)
	if errors.Is(err, ErrLeaseLost) && k.Err() != nil {
		return nil
	}
	return err
}
