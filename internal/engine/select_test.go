package engine_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/artifact"
	"github.com/velocity-ci/velocity/internal/engine"
	"github.com/velocity-ci/velocity/internal/plan"
	"github.com/velocity-ci/velocity/internal/spec"
	"github.com/velocity-ci/velocity/internal/store"
)

const partialPipeline = `name: p
stages:
  - name: build
    actions:
      - { name: lint, run: "true", inputs: [] }
      - { name: test, run: "true", inputs: [] }
      - { name: package, needs: [test], run: "mkdir -p dist && echo app > dist/app", outputs: [dist], inputs: [] }
  - name: ship
    actions:
      - { name: deploy, run: "cat dist/app", inputs: [] }
`

// runSelected records only the selected actions as the run, as velocity
// run does, and executes the plan with the selection.
func (h *harness) runSelected(p *plan.Plan, sel *plan.Selection) (engine.Outcome, map[string]store.Action) {
	h.t.Helper()
	var actions []store.Action
	p.Each(func(s *plan.Stage, n *plan.Node) {
		if sel.Has(n) {
			actions = append(actions, store.Action{StageIndex: s.Index, Stage: s.Name, Name: n.Name, Kind: store.Kind(n.Kind), Needs: n.NeedNames})
		}
	})
	ctx := context.Background()
	id, err := h.store.CreateRun(ctx, store.Run{Project: "p", Status: store.Running, Created: time.Now()}, actions)
	if err != nil {
		h.t.Fatal(err)
	}
	h.dir = h.t.TempDir()
	out, err := h.eng.Execute(ctx, engine.Run{
		ID: id, Plan: p, Dir: h.dir, LogDir: filepath.Join(h.dir, ".logs"), TempDir: h.t.TempDir(), Selection: sel,
	})
	if err != nil {
		h.t.Fatalf("Execute: %v", err)
	}
	got, err := h.store.Actions(ctx, id)
	if err != nil {
		h.t.Fatal(err)
	}
	m := map[string]store.Action{}
	for _, a := range got {
		m[a.Stage+"/"+a.Name] = a
	}
	return out, m
}

func partialHarness(t *testing.T) (*harness, *plan.Plan) {
	h := newHarness(t, 2)
	blobs, err := artifact.OpenBlobs(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	h.eng.Blobs = blobs
	s, err := spec.Parse("velocity.yml", []byte(partialPipeline))
	if err != nil {
		t.Fatal(err)
	}
	return h, plan.Compile(s)
}

func selectOf(t *testing.T, p *plan.Plan, only, skip []string) *plan.Selection {
	t.Helper()
	s, err := plan.Select(p, only, skip)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestPartialRunTakesFullRunResults: after a full run, selecting the last
// stage's action leaves lint out of the run and takes everything else
// from the cache, the selected action included: leaving out an action
// without outputs must not change the keys of those after it.
func TestPartialRunTakesFullRunResults(t *testing.T) {
	h, p := partialHarness(t)
	if out, acts := h.runSelected(p, nil); out.Status != store.Succeeded {
		t.Fatalf("full run: %+v %+v", out, acts)
	}
	out, acts := h.runSelected(p, selectOf(t, p, []string{"ship/deploy"}, nil))
	if out.Status != store.Succeeded {
		t.Fatalf("partial run: %+v %+v", out, acts)
	}
	names := make([]string, 0, len(acts))
	for id, a := range acts {
		names = append(names, id)
		if a.Status != store.Cached {
			t.Errorf("%s is %s (%s), want cached from the full run", id, a.Status, a.Reason)
		}
	}
	slices.Sort(names)
	if want := []string{"build/package", "build/test", "ship/deploy"}; !slices.Equal(names, want) {
		t.Errorf("the run holds %v, want %v", names, want)
	}
}

// TestSkippedNeedReleasesItsDependents: --skip test with package, which
// needs test only for its order, still runs package.
func TestSkippedNeedReleasesItsDependents(t *testing.T) {
	h, p := partialHarness(t)
	out, acts := h.runSelected(p, selectOf(t, p, []string{"package"}, []string{"test"}))
	if out.Status != store.Succeeded {
		t.Fatalf("%+v %+v", out, acts)
	}
	if _, ok := acts["build/test"]; ok || acts["build/package"].Status != store.Succeeded || len(acts) != 1 {
		t.Errorf("want only build/package, succeeded; got %+v", acts)
	}
}
