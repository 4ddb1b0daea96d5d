package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/velocity-ci/velocity/internal/store"
)

var _ store.Nodes = (*Store)(nil)

// Heartbeat implements store.Nodes.
func (s *Store) Heartbeat(ctx context.Context, n store.Node) error {
	runs, err := json.Marshal(n.Runs)
	if err != nil {
		return fmt.Errorf("heartbeat of node %s: %w", n.ID, err)
	}
	const q = `INSERT INTO nodes (id, addr, started, seen, ttl, runs, actions) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (id) DO UPDATE SET addr = excluded.addr, started = excluded.started, seen = excluded.seen, ttl = excluded.ttl,
		  runs = excluded.runs, actions = excluded.actions`
	if err := func() error {
		_, err := s.db.ExecContext(ctx, q, n.ID, n.Addr, nanos(n.Started), nanos(n.Seen), int64(n.TTL), string(runs), n.Actions)
		return err
	}(); err != nil {
		return fmt.Errorf("heartbeat of node %s: %w", n.ID, err)
	}
	return nil
}

// Nodes implements store.Nodes.
func (s *Store) Nodes(ctx context.Context) ([]store.Node, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, addr, started, seen, ttl, runs, actions FROM nodes ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("nodes: %w", err)
	}
	defer rows.Close()
	var out []store.Node
	for rows.Next() {
		var n store.Node
		var started, seen, ttl int64
		var runs string
		if err := rows.Scan(&n.ID, &n.Addr, &started, &seen, &ttl, &runs, &n.Actions); err != nil {
			return nil, fmt.Errorf("nodes: %w", err)
		}
		n.Started, n.Seen, n.TTL = fromNanos(started), fromNanos(seen), time.Duration(ttl)
		if err := json.Unmarshal([]byte(runs), &n.Runs); err != nil {
			return nil, fmt.Errorf("nodes: runs of %s: %w", n.ID, err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("nodes: %w", err)
	}
	return out, nil
}

// RemoveNode implements store.Nodes.
func (s *Store) RemoveNode(ctx context.Context, id string) error {
	if err := func() error {
		_, err := s.db.ExecContext(ctx, `DELETE FROM nodes WHERE id = $1`, id)
		return err
	}(); err != nil {
		return fmt.Errorf("remove node %s: %w", id, err)
	}
	return nil
}
