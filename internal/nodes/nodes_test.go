package nodes_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/nodes"
	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/store/sqlite"
)

// A node is up while its last heartbeat is younger than its own TTL,
// whatever the TTL of the node that lists it; one that leaves is gone.
func TestNodesAreUpWithinTheirTTL(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "velocity.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Unix(10_000, 0)
	clock := func() time.Time { return now }
	quick := &nodes.Service{Store: st, TTL: 3 * time.Second, Now: clock}
	slow := &nodes.Service{Store: st, TTL: time.Minute, Now: clock}
	if err := quick.Heartbeat(ctx, store.Node{ID: "a", Addr: "http://a", Started: now, Runs: []int64{4}, Actions: 2}); err != nil {
		t.Fatal(err)
	}
	if err := slow.Heartbeat(ctx, store.Node{ID: "b", Addr: "http://b", Started: now}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(10 * time.Second)
	list, err := slow.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Up || !list[1].Up {
		t.Fatalf("10s after their heartbeats: %+v; want a (TTL 3s) down, b (TTL 1m) up", list)
	}
	if a := list[0]; a.Addr != "http://a" || len(a.Runs) != 1 || a.Runs[0] != 4 || a.Actions != 2 || a.TTL != 3*time.Second {
		t.Errorf("node a: %+v", a)
	}
	if err := quick.Leave(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if list, err := quick.List(ctx); err != nil || len(list) != 1 || list[0].ID != "b" {
		t.Errorf("after a left: %+v, %v", list, err)
	}
}

// The node executing a run is the holder of its lease, while that node is
// up with an address and is not the asking one.
func TestExecutorOfARunIsTheHolderOfItsLease(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "velocity.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Unix(10_000, 0)
	clock := func() time.Time { return now }
	a := &nodes.Service{Store: st, TTL: 3 * time.Second, Now: clock, Leases: st, Self: "a"}
	b := &nodes.Service{Store: st, TTL: 3 * time.Second, Now: clock, Leases: st, Self: "b"}
	for _, n := range []store.Node{{ID: "a", Addr: "http://a"}, {ID: "b", Addr: "http://b"}, {ID: "c"}} {
		if err := a.Heartbeat(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	for id, holder := range map[int64]string{1: "a", 2: "c", 3: "velocity-run-process"} {
		if _, err := st.AcquireLease(ctx, store.RunLease(id), holder, 3*time.Second, now); err != nil {
			t.Fatal(err)
		}
	}
	if n, ok, err := b.ExecutorOf(ctx, 1); err != nil || !ok || n.ID != "a" || n.Addr != "http://a" {
		t.Errorf("b.ExecutorOf(run of a) = %+v, %v, %v; want node a", n, ok, err)
	}
	for _, tc := range []struct {
		who *nodes.Service
		run int64
		why string
	}{
		{a, 1, "its own run"},
		{b, 2, "a node without an address"},
		{b, 3, "a holder that is no node"},
		{b, 4, "a run nobody holds"},
	} {
		if n, ok, err := tc.who.ExecutorOf(ctx, tc.run); err != nil || ok {
			t.Errorf("ExecutorOf(%s) = %+v, %v, %v; want none", tc.why, n, ok, err)
		}
	}
	// Once the lease lapsed (node a dead), nobody executes the run.
	now = now.Add(5 * time.Second)
	if n, ok, err := b.ExecutorOf(ctx, 1); err != nil || ok {
		t.Errorf("ExecutorOf after the lease lapsed = %+v, %v, %v; want none", n, ok, err)
	}
}
