package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"time"

	"github.com/velocity-ci/velocity/internal/fault"
)

// Lease is the ownership of something live — a run, a workflow execution —
// by one holder until Expires. The holder renews it while it works; a
// holder that dies stops renewing, and once the lease has expired anyone
// may take the thing over or record it as interrupted. Unlike a lock file,
// a lease lives in the store, so it works across the nodes that share one.
type Lease struct {
	// Name says what is owned: RunLease(id), ExecutionLease(id).
	Name string `json:"name"`
	// Holder says who owns it (see NewHolder).
	Holder string `json:"holder"`
	// Expires is when the lease lapses unless its holder renews it.
	Expires time.Time `json:"expires"`
}

// Expired reports whether the lease has lapsed at now.
func (l Lease) Expired(now time.Time) bool { return !now.Before(l.Expires) }

// RunLease names the lease of run id.
func RunLease(id int64) string { return fmt.Sprintf("run/%d", id) }

// ExecutionLease names the lease of workflow execution id.
func ExecutionLease(id int64) string { return fmt.Sprintf("execution/%d", id) }

var (
	// ErrLeaseHeld is wrapped by AcquireLease when another holder's lease
	// has not expired.
	ErrLeaseHeld = fault.New(fault.Conflict, "held by another holder")
	// ErrLeaseLost is wrapped by RenewLease and ReleaseLease when the
	// holder does not hold the lease (any more): it never did, released
	// it, let it expire or saw it taken over.
	ErrLeaseLost = fault.New(fault.Conflict, "not held by this holder")
)

// Leases keeps leases, beside the Store in the same implementations and
// checked by the storetest suite (RunLeases). Methods are safe for
// concurrent use, also from several processes and nodes, each call atomic
// with respect to all others. Times are the caller's clock: holders and
// those who check them compare against their own, so a lease's TTL must
// be well above the clock skew between nodes.
type Leases interface {
	// AcquireLease gives name to holder until now+ttl (ttl > 0) if no
	// lease exists, the existing one has expired at now, or holder already
	// holds it (then it is extended). Otherwise it returns the current
	// lease and an error wrapping ErrLeaseHeld; of several holders asking
	// at once, exactly one gets a free lease.
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (Lease, error)
	// RenewLease extends holder's lease on name to now+ttl. A lease that
	// has expired at now is not renewed, even if nobody took it over —
	// whoever saw it expired may have acted on that — and, like a lease
	// held by another, is an error wrapping ErrLeaseLost.
	RenewLease(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (Lease, error)
	// ReleaseLease ends holder's lease on name, expired or not; a lease
	// that is not holder's (or none) is an error wrapping ErrLeaseLost.
	// Besides the holder, one who knows the holder is dead (its lock on
	// this machine was released) may release the lease in its name.
	ReleaseLease(ctx context.Context, name, holder string) error
	// Lease returns the lease on name, expired or not, or an error
	// wrapping ErrNotFound when there is none.
	Lease(ctx context.Context, name string) (Lease, error)
}

// NewHolder returns a holder name for this process: the host and pid
// say where the holder runs, and a random part keeps a later process that
// reuses the pid from passing for it.
func NewHolder() string {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown-host"
	}
	var b [6]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}
