package web

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/store"
)

func TestColumnsFollowNeedsAndPutCleanUpLast(t *testing.T) {
	stage := []store.Action{
		{Name: "compile", Kind: store.KindAction},
		{Name: "test", Kind: store.KindAction, Needs: []string{"compile"}},
		{Name: "lint", Kind: store.KindAction},
		{Name: "package", Kind: store.KindAction, Needs: []string{"test", "lint"}},
		{Name: "notify", Kind: store.KindOnFailure},
		{Name: "clean", Kind: store.KindFinally, Needs: []string{"compile"}},
	}
	if got, want := columns(stage), []int{0, 1, 0, 2, 3, 1}; !reflect.DeepEqual(got, want) {
		t.Errorf("columns = %v, want %v", got, want)
	}
}

func TestLayoutPlacesStagesLeftToRight(t *testing.T) {
	now := time.Now()
	actions := []store.Action{
		{StageIndex: 0, Stage: "build", Name: "a", Kind: store.KindAction, Status: store.Succeeded, Started: now.Add(-3 * time.Second), Finished: now.Add(-time.Second)},
		{StageIndex: 0, Stage: "build", Name: "b", Kind: store.KindAction, Needs: []string{"a"}, Status: store.Cached, CachedFrom: 7},
		{StageIndex: 1, Stage: "deploy", Name: "a", Kind: store.KindAction, Status: store.Running, Started: now.Add(-90 * time.Second)},
	}
	g := layout(actions, now)
	if len(g.Nodes) != 3 || len(g.Edges) != 1 || len(g.Stages) != 2 {
		t.Fatalf("layout: %d nodes, %d edges, %d stages", len(g.Nodes), len(g.Edges), len(g.Stages))
	}
	a, b, d := g.Nodes[0], g.Nodes[1], g.Nodes[2]
	if !(a.X < b.X && b.X < d.X) || a.Y != b.Y {
		t.Errorf("positions: %+v %+v %+v", a, b, d)
	}
	if a.Duration != "2.0s" || d.Duration != "1m30s" || b.CachedFrom != 7 {
		t.Errorf("durations %q %q, cached from %d", a.Duration, d.Duration, b.CachedFrom)
	}
	if e := g.Edges[0]; e.From != "build/a" || e.To != "build/b" || !strings.HasPrefix(e.D, "M") {
		t.Errorf("edge %+v", e)
	}
	if g.Width < d.X+nodeW {
		t.Errorf("width %d does not hold the last node at %d", g.Width, d.X)
	}
}
