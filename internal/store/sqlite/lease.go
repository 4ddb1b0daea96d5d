package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/velocity-ci/velocity/internal/store"
)

var _ store.Leases = (*Store)(nil)

// AcquireLease implements store.Leases. The transaction is immediate
// (write-locked from its start, see Open), so reading the current lease
// and replacing it is atomic also against other processes.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (store.Lease, error) {
	if ttl <= 0 {
		return store.Lease{}, fmt.Errorf("lease %s: ttl %v is not positive", name, ttl)
	}
	var out store.Lease
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		cur, err := queryLease(ctx, tx, name)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return err
		case cur.Holder != holder && !cur.Expired(now):
			out = cur
			return fmt.Errorf("lease %s: %s until %s: %w", name, cur.Holder, cur.Expires.Format(time.RFC3339), store.ErrLeaseHeld)
		}
		out = store.Lease{Name: name, Holder: holder, Expires: now.Add(ttl)}
		_, err = tx.ExecContext(ctx,
			`INSERT INTO leases (name, holder, expires) VALUES (?, ?, ?)
			 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires = excluded.expires`,
			name, holder, out.Expires.UnixNano())
		return err
	})
	if err != nil && !errors.Is(err, store.ErrLeaseHeld) {
		return store.Lease{}, fmt.Errorf("acquire lease %s: %w", name, err)
	}
	return out, err
}

// RenewLease implements store.Leases.
func (s *Store) RenewLease(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (store.Lease, error) {
	if ttl <= 0 {
		return store.Lease{}, fmt.Errorf("lease %s: ttl %v is not positive", name, ttl)
	}
	l := store.Lease{Name: name, Holder: holder, Expires: now.Add(ttl)}
	res, err := s.db.ExecContext(ctx,
		`UPDATE leases SET expires = ? WHERE name = ? AND holder = ? AND expires > ?`,
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
	res, err := s.db.ExecContext(ctx, `DELETE FROM leases WHERE name = ? AND holder = ?`, name, holder)
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

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func queryLease(ctx context.Context, q queryer, name string) (store.Lease, error) {
	l := store.Lease{Name: name}
	var expires int64
	err := q.QueryRowContext(ctx, `SELECT holder, expires FROM leases WHERE name = ?`, name).Scan(&l.Holder, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return l, fmt.Errorf("lease %s: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return l, fmt.Errorf("lease %s: %w", name, err)
	}
	l.Expires = time.Unix(0, expires)
	return l, nil
}
