package postgres

import (
	"context"
	"fmt"

	"github.com/velocity-ci/velocity/internal/store"
)

var _ store.StateMachines = (*Store)(nil)

// CreateStateMachine implements store.StateMachines.
func (s *Store) CreateStateMachine(ctx context.Context, m store.StateMachine) error {
	_, err := s.db.ExecContext(ctx,
		`INSERT INTO state_machines (arn, name, definition, role_arn, type, created, updated) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		m.ARN, m.Name, orEmpty(m.Definition), m.RoleARN, m.Type, nanos(m.Created), nanos(m.Updated))
	if isUnique(err) {
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
		`UPDATE state_machines SET definition = $1, role_arn = $2, updated = $3 WHERE arn = $4`,
		orEmpty(m.Definition), m.RoleARN, nanos(m.Updated), m.ARN)
	return affected(res, err, "update state machine "+m.ARN)
}

// StateMachine implements store.StateMachines.
func (s *Store) StateMachine(ctx context.Context, arn string) (store.StateMachine, error) {
	ms, err := s.stateMachines(ctx, `WHERE arn = $1`, arn)
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
	return s.stateMachines(ctx, `ORDER BY name COLLATE "C", arn COLLATE "C"`)
}

// DeleteStateMachine implements store.StateMachines.
func (s *Store) DeleteStateMachine(ctx context.Context, arn string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM state_machines WHERE arn = $1`, arn)
	return affected(res, err, "delete state machine "+arn)
}

func (s *Store) stateMachines(ctx context.Context, where string, args ...any) ([]store.StateMachine, error) {
	ms, err := queryAll(ctx, s.db, func(row scanner) (store.StateMachine, error) {
		var m store.StateMachine
		var created, updated int64
		err := row.Scan(&m.ARN, &m.Name, &m.Definition, &m.RoleARN, &m.Type, &created, &updated)
		m.Created, m.Updated = fromNanos(created), fromNanos(updated)
		return m, err
	}, `SELECT arn, name, definition, role_arn, type, created, updated FROM state_machines `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("read state machines: %w", err)
	}
	return ms, nil
}
