package store

import (
	"context"
	"time"
)

// Node is one velocity serve sharing the store, as it last reported
// itself: nodes heartbeat a few times per lease TTL, so one whose Seen is
// older than that is down (killed, crashed, cut off) or stopping.
type Node struct {
	// ID is the node's holder name in leases (see NewHolder): its runs'
	// leases name it.
	ID string `json:"id"`
	// Addr is where its API listens ("" without --listen).
	Addr    string    `json:"addr"`
	Started time.Time `json:"started"`
	// Seen is its last heartbeat.
	Seen time.Time `json:"seen"`
	// TTL is the lease TTL of its runs: silent longer than that, it has
	// lost them to the other nodes.
	TTL time.Duration `json:"ttl"`
	// Runs are the runs it executes; Actions how many of their actions
	// run at its last heartbeat: its load.
	Runs    []int64 `json:"runs"`
	Actions int     `json:"actions"`
}

// Nodes keeps the nodes' heartbeats, beside the Store in the same
// implementations and checked by the storetest suite (RunNodes). Methods
// are safe for concurrent use, also from several processes.
type Nodes interface {
	// Heartbeat records n as it is now, replacing what it reported
	// before.
	Heartbeat(ctx context.Context, n Node) error
	// Nodes lists the nodes by ID, the down ones too.
	Nodes(ctx context.Context) ([]Node, error)
	// RemoveNode forgets a node that stopped; one that is not there is
	// not an error.
	RemoveNode(ctx context.Context, id string) error
}
