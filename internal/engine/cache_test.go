package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/velocity-ci/velocity/internal/artifact"
	"github.com/velocity-ci/velocity/internal/plan"
	"github.com/velocity-ci/velocity/internal/spec"
	"github.com/velocity-ci/velocity/internal/store"
)

// TestCachedOutputsKeepLinksAndEmptyDirectories: an action whose outputs
// hold a symlink and an empty directory is a cache hit on the next
// unchanged run, in a fresh workspace, with both restored as they were;
// an action after it keys on the link's target, so a new target re-runs
// it.
func TestCachedOutputsKeepLinksAndEmptyDirectories(t *testing.T) {
	h := newHarness(t, 2)
	blobs, err := artifact.OpenBlobs(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	h.eng.Blobs = blobs
	runIn := func(target string) map[string]store.Action {
		t.Helper()
		h.dir = t.TempDir()
		writeFile(t, filepath.Join(h.dir, "target.txt"), target)
		// Compiled from a definition, so that use keys on make's outputs
		// as in a real run.
		p, err := spec.Parse("velocity.yml", []byte(`name: p
stages:
  - name: s
    actions:
      - name: make
        run: mkdir -p app/empty && echo hi > app/real && echo ho > app/other && ln -s "$(cat target.txt)" app/alias
        outputs: [app]
      - name: use
        needs: [make]
        run: cat app/alias && test -d app/empty
        inputs: []
`))
		if err != nil {
			t.Fatal(err)
		}
		out, acts := h.run(context.Background(), plan.Compile(p))
		if out.Status != store.Succeeded {
			t.Fatalf("outcome %+v %+v", out, acts)
		}
		return acts
	}

	runIn("real")
	acts := runIn("real")
	for _, a := range []string{"s/make", "s/use"} {
		if acts[a].Status != store.Cached {
			t.Errorf("unchanged run: %s is %s, want cached", a, acts[a].Status)
		}
	}
	if target, err := os.Readlink(filepath.Join(h.dir, "app/alias")); err != nil || target != "real" {
		t.Errorf("restored app/alias: %q, %v; want a link to real", target, err)
	}
	if fi, err := os.Lstat(filepath.Join(h.dir, "app/empty")); err != nil || !fi.IsDir() {
		t.Errorf("restored app/empty: %v, %v", fi, err)
	}

	acts = runIn("other")
	if acts["s/make"].Status != store.Succeeded || acts["s/use"].Status != store.Succeeded {
		t.Errorf("after the link's target changed: make %s, use %s; want both executed", acts["s/make"].Status, acts["s/use"].Status)
	}
}

func writeFile(t *testing.T, p, content string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
