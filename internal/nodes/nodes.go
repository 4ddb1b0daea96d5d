// Package nodes tells which velocity serve nodes share the store: each
// node's address, last heartbeat, the runs it executes and its load.
// Nodes report themselves (Heartbeat); any node, or a command pointed at
// the same store, lists them all.
package nodes

import (
	"context"
	"errors"
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
	// Leases and Self (this node's ID) let ExecutorOf say which other
	// node executes a run; without Leases it never finds one.
	Leases store.Leases
	Self   string
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

// ExecutorOf returns the node executing run id, when that is another node
// that is up and has an API address: the node to send what acts on the
// run's process (its live events, a cancel). ok is false when this node,
// a process that is no node (velocity run), or nobody executes it.
func (s *Service) ExecutorOf(ctx context.Context, id int64) (Node, bool, error) {
	if s.Leases == nil {
		return Node{}, false, nil
	}
	l, err := s.Leases.Lease(ctx, store.RunLease(id))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return Node{}, false, nil
	case err != nil:
		return Node{}, false, err
	case l.Holder == s.Self || l.Expired(s.now()):
		return Node{}, false, nil
	}
	list, err := s.List(ctx)
	if err != nil {
		return Node{}, false, err
	}
	for _, n := range list {
		if n.ID == l.Holder && n.Up && n.Addr != "" {
			return n, true, nil
		}
	}
	return Node{}, false, nil
}
