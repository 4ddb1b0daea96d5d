package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/velocity-ci/velocity/internal/fault"
	"github.com/velocity-ci/velocity/internal/store"
)

var _ store.Tokens = (*Store)(nil)

// CreateToken implements store.Tokens. Checking the name and inserting
// happen in one immediate transaction, so of two creations of one name
// exactly one succeeds.
func (s *Store) CreateToken(ctx context.Context, t store.Token) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		cur, err := queryAPIToken(ctx, tx, t.Name)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return err
		case cur.Revoked.IsZero():
			return fault.Conflictf("a token named %s exists", t.Name)
		}
		_, err = tx.ExecContext(ctx,
			`INSERT INTO tokens (name, role, hash, created, last_used, revoked) VALUES (?, ?, ?, ?, ?, ?)
			 ON CONFLICT (name) DO UPDATE SET role = excluded.role, hash = excluded.hash,
			   created = excluded.created, last_used = excluded.last_used, revoked = excluded.revoked`,
			t.Name, t.Role, orEmpty(t.Hash), nanos(t.Created), nanos(t.LastUsed), nanos(t.Revoked))
		return err
	})
	if err != nil {
		return fmt.Errorf("create token %s: %w", t.Name, err)
	}
	return nil
}

// Token implements store.Tokens.
func (s *Store) Token(ctx context.Context, name string) (store.Token, error) {
	return queryAPIToken(ctx, s.db, name)
}

// Tokens implements store.Tokens.
func (s *Store) Tokens(ctx context.Context) ([]store.Token, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, role, hash, created, last_used, revoked FROM tokens ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	defer rows.Close()
	var out []store.Token
	for rows.Next() {
		t, err := scanAPIToken(rows)
		if err != nil {
			return nil, fmt.Errorf("tokens: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	return out, nil
}

// RevokeToken implements store.Tokens.
func (s *Store) RevokeToken(ctx context.Context, name string, at time.Time) error {
	return s.updateToken(ctx, "revoke", name,
		`UPDATE tokens SET revoked = CASE WHEN revoked = 0 THEN ? ELSE revoked END WHERE name = ?`, nanos(at))
}

// TouchToken implements store.Tokens.
func (s *Store) TouchToken(ctx context.Context, name string, at time.Time) error {
	return s.updateToken(ctx, "touch", name, `UPDATE tokens SET last_used = ? WHERE name = ?`, nanos(at))
}

func (s *Store) updateToken(ctx context.Context, verb, name, query string, at int64) error {
	res, err := s.db.ExecContext(ctx, query, at, name)
	if err != nil {
		return fmt.Errorf("%s token %s: %w", verb, name, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fmt.Errorf("%s token %s: %w", verb, name, store.ErrNotFound)
	}
	return nil
}

type scanner interface{ Scan(dest ...any) error }

func scanAPIToken(sc scanner) (store.Token, error) {
	var t store.Token
	var created, used, revoked int64
	if err := sc.Scan(&t.Name, &t.Role, &t.Hash, &created, &used, &revoked); err != nil {
		return t, err
	}
	t.Created, t.LastUsed, t.Revoked = fromNanos(created), fromNanos(used), fromNanos(revoked)
	return t, nil
}

func queryAPIToken(ctx context.Context, q queryer, name string) (store.Token, error) {
	t, err := scanAPIToken(q.QueryRowContext(ctx,
		`SELECT name, role, hash, created, last_used, revoked FROM tokens WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("token %s: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return t, fmt.Errorf("token %s: %w", name, err)
	}
	return t, nil
}
