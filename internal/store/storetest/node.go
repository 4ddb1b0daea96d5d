package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/store"
)

// RunNodes runs the conformance suite of store.Nodes; open returns an
// empty store for each subtest.
func RunNodes(t *testing.T, open func(t *testing.T) store.Nodes) {
	t.Run("HeartbeatReplaces", func(t *testing.T) { testHeartbeat(t, open(t)) })
}

// A heartbeat replaces what the node reported before; nodes are listed
// by ID; a removed node is gone, and removing it again is no error.
func testHeartbeat(t *testing.T, s store.Nodes) {
	started := time.Unix(1000, 0)
	b := store.Node{ID: "host-b/2/x", Addr: "http://b:8443", Started: started, Seen: started, Runs: []int64{}}
	a := store.Node{ID: "host-a/1/x", Addr: "http://a:8443", Started: started, Seen: started, Runs: []int64{}}
	for _, n := range []store.Node{b, a} {
		if err := s.Heartbeat(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	a.Seen, a.Runs, a.Actions, a.TTL = started.Add(time.Second), []int64{7, 9}, 3, 30*time.Second
	if err := s.Heartbeat(ctx, a); err != nil {
		t.Fatal(err)
	}
	got, err := s.Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != a.ID || got[1].ID != b.ID {
		t.Fatalf("nodes %+v, want %s then %s", got, a.ID, b.ID)
	}
	g := got[0]
	if g.Addr != a.Addr || !g.Started.Equal(a.Started) || !g.Seen.Equal(a.Seen) || !slices.Equal(g.Runs, a.Runs) || g.Actions != 3 || g.TTL != a.TTL {
		t.Errorf("node %+v, want %+v", g, a)
	}
	for range 2 {
		if err := s.RemoveNode(ctx, b.ID); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := s.Nodes(ctx); err != nil || len(got) != 1 || got[0].ID != a.ID {
		t.Errorf("after removing %s: %+v, %v", b.ID, got, err)
	}
}
