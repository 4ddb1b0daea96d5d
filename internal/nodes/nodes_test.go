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
