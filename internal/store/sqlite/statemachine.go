package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/velocity-ci/velocity/internal/store"
)

var _ store.StateMachines = (*Store)(nil)

// CreateStateMachine implements store.StateMachines.
func (s *Store) CreateStateMachine(ctx context.Context, m store.StateMachine) error {
	_, err := s.db.ExecContext(ctx,
		`INSERT INTO state_machines (arn, name, definition, role_arn, type, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		m.ARN, m.Name, orEmpty(m.Definition), m.RoleARN, m.Type, nanos(m.Created), nanos(m.Updated))
	if isConstraint(err) {
		return fmt.Errorf("state machine %s: %w", m.ARN, store.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("record state machine %s: %w", m.ARN, err)
	}
	return nil
}

// UpdateStateMachine implements store.StateMachines.
func (s *Store) UpdateStateMachine(ctx context.Context, m store.StateMachine) error {
	res, err := s.db.ExecContext(ctx,
		`UPDATE state_machines SET definition = ?, role_arn = ?, updated = ? WHERE arn = ?`,
		orEmpty(m.Definition), m.RoleARN, nanos(m.Updated), m.ARN)
	return affected(res, err, "update state machine "+m.ARN)
}

// StateMachine implements store.StateMachines.
func (s *Store) StateMachine(ctx context.Context, arn string) (store.StateMachine, error) {
	ms, err := s.stateMachines(ctx, `WHERE arn = ?`, arn)
	if err != nil {
		return store.StateMachine{}, err
	}
	if len(ms) == 0 {
		return store.StateMachine{}, fmt.Errorf("state machine %s: %w", arn, store.ErrNotFound)
	}
	return ms[0], nil
}

// StateMachines implements store.StateMachines.
func (s *Store) StateMachines(ctx context.Context) ([]store.StateMachine, error) {
	return s.stateMachines(ctx, `ORDER BY name, arn`)
}

// DeleteStateMachine implements store.StateMachines.
func (s *Store) DeleteStateMachine(ctx context.Context, arn string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM state_machines WHERE arn = ?`, arn)
	return affected(res, err, "delete state machine "+arn)
}

// affected turns a statement that changed no row into ErrNotFound.
func affected(res sql.Result, err error, what string) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return nil
}

func (s *Store) stateMachines(ctx context.Context, where string, args ...any) ([]store.StateMachine, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT arn, name, definition, role_arn, type, created, updated FROM state_machines `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("read state machines: %w", err)
	}
	defer rows.Close()
	var ms []store.StateMachine
	for rows.Next() {
		var m store.StateMachine
		var created, updated int64
		if err := rows.Scan(&m.ARN, &m.Name, &m.Definition, &m.RoleARN, &m.Type, &created, &updated); err != nil {
			return nil, fmt.Errorf("read state machines: %w", err)
		}
		m.Created, m.Updated = fromNanos(created), fromNanos(updated)
		ms = append(ms, m)
	}
	if err := rows.Err(); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("read state machines: %w", err)
	}
	return ms, nil
}
