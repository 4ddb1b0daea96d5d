// Package nodes tells which velocity serve nodes share the store: each
// node's address, last heartbeat, the runs it executes and its load.
// Nodes report themselves (Heartbeat); any node, or a command pointed at
// the same store, lists them all.
package nodes

import (
	"context"
	"time"

	"github.com/velocity-ci/velocity/internal/store"
)

// Node is a node as List reports it.
type Node struct {
	store.Node
	// Up says the node heartbeat within its lease TTL: a node silent
	// longer has lost its runs to the others.
	Up bool `json:"up"`
}

// Service lists and records the nodes.
type Service struct {
	Store store.Nodes
	// TTL is this node's lease TTL, reported in its heartbeats.
	TTL time.Duration
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

// List returns the nodes by ID.
func (s *Service) List(ctx context.Context) ([]Node, error) {
	list, err := s.Store.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	now := s.now()
	out := make([]Node, len(list))
	for i, n := range list {
		out[i] = Node{Node: n, Up: now.Sub(n.Seen) < n.TTL}
	}
	return out, nil
}

// Heartbeat records n as seen now.
func (s *Service) Heartbeat(ctx context.Context, n store.Node) error {
	n.Seen, n.TTL = s.now(), s.TTL
	if n.Runs == nil {
		n.Runs = []int64{}
	}
	return s.Store.Heartbeat(ctx, n)
}

// Leave forgets node id, which stops.
func (s *Service) Leave(ctx context.Context, id string) error {
	return s.Store.RemoveNode(ctx, id)
}
