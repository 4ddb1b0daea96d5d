package postgres

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

// CreateToken implements store.Tokens. One upsert that replaces only a
// revoked token: of two creations of one name at once, the second finds
// the first's token, not revoked, and changes nothing.
func (s *Store) CreateToken(ctx context.Context, t store.Token) error {
	res, err := s.db.ExecContext(ctx,
		`INSERT INTO tokens (name, role, hash, created, last_used, revoked) VALUES ($1, $2, $3, $4, $5, $6)
		 ON CONFLICT (name) DO UPDATE SET role = excluded.role, hash = excluded.hash,
		   created = excluded.created, last_used = excluded.last_used, revoked = excluded.revoked
		 WHERE tokens.revoked != 0`,
		t.Name, t.Role, orEmpty(t.Hash), nanos(t.Created), nanos(t.LastUsed), nanos(t.Revoked))
	if err != nil {
		return fmt.Errorf("create token %s: %w", t.Name, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("create token %s: %w", t.Name, err)
	} else if n == 0 {
		return fmt.Errorf("create token %s: %w", t.Name, fault.Conflictf("a token named %s exists", t.Name))
	}
	return nil
}

// Token implements store.Tokens.
func (s *Store) Token(ctx context.Context, name string) (store.Token, error) {
	t, err := scanAPIToken(s.db.QueryRowContext(ctx,
		`SELECT name, role, hash, created, last_used, revoked FROM tokens WHERE name = $1`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("token %s: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return t, fmt.Errorf("token %s: %w", name, err)
	}
	return t, nil
}

// Tokens implements store.Tokens.
func (s *Store) Tokens(ctx context.Context) ([]store.Token, error) {
	out, err := queryAll(ctx, s.db, scanAPIToken, `SELECT name, role, hash, created, last_used, revoked FROM tokens ORDER BY name COLLATE "C"`)
	if err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	return out, nil
}

// RevokeToken implements store.Tokens.
func (s *Store) RevokeToken(ctx context.Context, name string, at time.Time) error {
	return s.updateToken(ctx, "revoke", name,
		`UPDATE tokens SET revoked = CASE WHEN revoked = 0 THEN $1 ELSE revoked END WHERE name = $2`, nanos(at))
}

// TouchToken implements store.Tokens.
func (s *Store) TouchToken(ctx context.Context, name string, at time.Time) error {
	return s.updateToken(ctx, "touch", name, `UPDATE tokens SET last_used = $1 WHERE name = $2`, nanos(at))
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

func scanAPIToken(sc scanner) (store.Token, error) {
	var t store.Token
	var created, used, revoked int64
	if err := sc.Scan(&t.Name, &t.Role, &t.Hash, &created, &used, &revoked); err != nil {
		return t, err
	}
	t.Created, t.LastUsed, t.Revoked = fromNanos(created), fromNanos(used), fromNanos(revoked)
	return t, nil
}
