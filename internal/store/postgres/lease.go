package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/velocity-ci/velocity/internal/store"
)

var _ store.Leases = (*Store)(nil)

// AcquireLease implements store.Leases. The test and the write are one
// upsert: PostgreSQL locks the conflicting row and checks the WHERE
// clause against its newest version, so of several holders racing for a
// free lease exactly one writes it, and the others find it held.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (store.Lease, error) {
	if ttl <= 0 {
		return store.Lease{}, fmt.Errorf("lease %s: ttl %v is not positive", name, ttl)
	}
	l := store.Lease{Name: name, Holder: holder, Expires: now.Add(ttl)}
	for {
		var got string
		err := s.db.QueryRowContext(ctx,
			`INSERT INTO leases (name, holder, expires) VALUES ($1, $2, $3)
			 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires = excluded.expires
			 WHERE leases.holder = excluded.holder OR leases.expires <= $4
			 RETURNING holder`,
			name, holder, l.Expires.UnixNano(), now.UnixNano()).Scan(&got)
		if err == nil {
			return l, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return store.Lease{}, fmt.Errorf("acquire lease %s: %w", name, err)
		}
		cur, err := queryLease(ctx, s.db, name)
		if errors.Is(err, store.ErrNotFound) {
			continue // released in between: try again
		}
		if err != nil {
			return store.Lease{}, fmt.Errorf("acquire lease %s: %w", name, err)
		}
		return cur, fmt.Errorf("lease %s: %s until %s: %w", name, cur.Holder, cur.Expires.Format(time.RFC3339), store.ErrLeaseHeld)
	}
}

// RenewLease implements store.Leases.
func (s *Store) RenewLease(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (store.Lease, error) {
	if ttl <= 0 {
		return store.Lease{}, fmt.Errorf("lease %s: ttl %v is not positive", name, ttl)
	}
	l := store.Lease{Name: name, Holder: holder, Expires: now.Add(ttl)}
	res, err := s.db.ExecContext(ctx,
		`UPDATE leases SET expires = $1 WHERE name = $2 AND holder = $3 AND expires > $4`,
		l.Expires.UnixNano(), name, holder, now.UnixNano())
	if err != nil {
		return store.Lease{}, fmt.Errorf("renew lease %s: %w", name, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return store.Lease{}, fmt.Errorf("renew lease %s by %s: %w", name, holder, store.ErrLeaseLost)
	}
	return l, nil
}

// ReleaseLease implements store.Leases.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM leases WHERE name = $1 AND holder = $2`, name, holder)
	if err != nil {
		return fmt.Errorf("release lease %s: %w", name, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fmt.Errorf("release lease %s by %s: %w", name, holder, store.ErrLeaseLost)
	}
	return nil
}

// Lease implements store.Leases.
func (s *Store) Lease(ctx context.Context, name string) (store.Lease, error) {
	return queryLease(ctx, s.db, name)
}

func queryLease(ctx context.Context, q queryer, name string) (store.Lease, error) {
	l := store.Lease{Name: name}
	var expires int64
	err := q.QueryRowContext(ctx, `SELECT holder, expires FROM leases WHERE name = $1`, name).Scan(&l.Holder, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return l, fmt.Errorf("lease %s: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return l, fmt.Errorf("lease %s: %w", name, err)
	}
	l.Expires = time.Unix(0, expires)
	return l, nil
}
