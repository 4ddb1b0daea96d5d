package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/engine"
	"github.com/velocity-ci/velocity/internal/plan"
	"github.com/velocity-ci/velocity/internal/spec"
	"github.com/velocity-ci/velocity/internal/store"
)

// sharingRun compiles a velocity.yml, runs it in h's workspace and returns
// the outcome, the actions and the warnings the run received.
func sharingRun(t *testing.T, h *harness, yml string, strict bool) (engine.Outcome, map[string]store.Action, []string) {
	t.Helper()
	p, err := spec.Parse("velocity.yml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	pl := plan.Compile(p)
	var actions []store.Action
	pl.Each(func(s *plan.Stage, n *plan.Node) {
		actions = append(actions, store.Action{StageIndex: s.Index, Stage: s.Name, Name: n.Name, Kind: store.Kind(n.Kind), Needs: n.NeedNames})
	})
	id, err := h.store.CreateRun(context.Background(), store.Run{Project: "t", Status: store.Running, Created: time.Now()}, actions)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var warnings []string
	out, err := h.eng.Execute(context.Background(), engine.Run{
		ID:     id,
		Plan:   pl,
		Dir:    h.dir,
		LogDir: t.TempDir(),
		Env:    []string{"PATH=" + os.Getenv("PATH")},
		Warn: func(msg string) {
			mu.Lock()
			warnings = append(warnings, msg)
			mu.Unlock()
		},
		StrictSharing: strict,
	})
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	got, err := h.store.Actions(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]store.Action{}
	for _, a := range got {
		m[a.Stage+"/"+a.Name] = a
	}
	return out, m, warnings
}

// venvPipeline is the shape `velocity init` used to write for Python: an
// install step that creates .venv, and a test step that uses it.
const venvPipeline = `
name: t
stages:
  - name: build
    actions:
      - name: install
        run: mkdir -p .venv/bin && printf '#!/bin/sh\necho ok\n' > .venv/bin/python && chmod +x .venv/bin/python
        %s
      - name: test
        needs: [install]
        run: .venv/bin/python
        %s
`

func TestSharingWarnsWhenALaterActionMayReadAnUndeclaredPath(t *testing.T) {
	h := newHarness(t, 2)
	out, _, warnings := sharingRun(t, h, strings.NewReplacer("%s", "").Replace(venvPipeline), false)
	if out.Status != store.Succeeded {
		t.Fatalf("run %s: %s (a warning must not fail the run)", out.Status, out.Reason)
	}
	if len(warnings) != 1 {
		t.Fatalf("warnings = %q, want one", warnings)
	}
	w := warnings[0]
	for _, want := range []string{"build/test may read .venv", "build/install created", "install's outputs", "cache"} {
		if !strings.Contains(w, want) {
			t.Errorf("warning lacks %q: %s", want, w)
		}
	}
	atts, err := h.store.Attempts(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range atts {
		if a.Action != "test" {
			continue
		}
		if log, _ := os.ReadFile(a.Log); !strings.Contains(string(log), "warning: build/test may read .venv") {
			t.Errorf("the reader's log lacks the warning:\n%s", log)
		}
	}
}

func TestSharingStrictFailsTheReader(t *testing.T) {
	h := newHarness(t, 2)
	out, acts, warnings := sharingRun(t, h, strings.NewReplacer("%s", "").Replace(venvPipeline), true)
	if out.Status != store.Failed {
		t.Fatalf("run %s, want failed in strict mode", out.Status)
	}
	if a := acts["build/test"]; a.Status != store.Failed || !strings.Contains(a.Reason, "strict") {
		t.Errorf("test: %s (%s), want failed by strict mode", a.Status, a.Reason)
	}
	if len(warnings) != 1 {
		t.Errorf("warnings = %q, want the one that explains the failure", warnings)
	}
}

func TestSharingQuietWhenDeclaredOrNotRead(t *testing.T) {
	for _, tc := range []struct {
		name           string
		install, reads string
	}{
		{"writer caches it", "cache: [.venv]", ""},
		{"writer outputs it", "outputs: [.venv/bin/python]", ""},
		{"writer outputs it by glob", `outputs: [".venv/**"]`, ""},
		{"reader's inputs exclude it", "", `inputs: ["*.txt"]`},
		{"reader caches it itself", "", "cache: [.venv]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, 2)
			yml := strings.Replace(strings.Replace(venvPipeline, "%s", tc.install, 1), "%s", tc.reads, 1)
			// test reading a path it does not declare as input must not
			// break the run either way.
			yml = strings.Replace(yml, "run: .venv/bin/python", "run: 'true'", 1)
			out, _, warnings := sharingRun(t, h, yml, true)
			if out.Status != store.Succeeded || len(warnings) > 0 {
				t.Errorf("run %s (%s), warnings %q; want success without warnings", out.Status, out.Reason, warnings)
			}
		})
	}
}

func TestSharingMatchingInputsWarn(t *testing.T) {
	h := newHarness(t, 2)
	yml := strings.Replace(strings.Replace(venvPipeline, "%s", "", 1), "%s", `inputs: ["*.py", ".venv/**"]`, 1)
	_, _, warnings := sharingRun(t, h, yml, false)
	if len(warnings) != 1 {
		t.Errorf("warnings = %q, want one about .venv", warnings)
	}
}

func TestSharingIgnoresUnorderedActionsAndToolCaches(t *testing.T) {
	h := newHarness(t, 2)
	// b does not run after a, so it cannot rely on a's files; c runs after
	// a but __pycache__ is recreated by Python whenever it is missing.
	_, _, warnings := sharingRun(t, h, `
name: t
stages:
  - name: build
    actions:
      - {name: a, run: "mkdir -p out __pycache__ && touch out/x"}
      - {name: b, run: "true"}
      - {name: c, needs: [a], run: "true", inputs: ["__pycache__/**"]}
`, false)
	if len(warnings) > 0 {
		t.Errorf("warnings = %q, want none", warnings)
	}
}

func TestSharingSeesNewFilesInExistingDirectoriesAndLaterStages(t *testing.T) {
	h := newHarness(t, 2)
	if err := os.MkdirAll(filepath.Join(h.dir, "build"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(h.dir, "build", ".keep"), nil, 0o644)
	// Directory mtimes have a coarse granularity on some file systems.
	time.Sleep(20 * time.Millisecond)
	_, _, warnings := sharingRun(t, h, `
name: t
stages:
  - name: compile
    actions:
      - {name: make, run: "touch build/app"}
  - name: ship
    actions:
      - {name: package, run: "test -f build/app"}
`, false)
	if len(warnings) != 1 || !strings.Contains(warnings[0], "ship/package may read build/app, which compile/make created") {
		t.Errorf("warnings = %q, want one naming ship/package, build/app and compile/make", warnings)
	}
}

// TestSharingConcurrentWritersAreNotBlamedForDeclaredPaths: b declares
// the file it makes while a runs, so c, which runs after a, hears only
// about a's undeclared one.
func TestSharingConcurrentWritersAreNotBlamedForDeclaredPaths(t *testing.T) {
	h := newHarness(t, 2)
	_, _, warnings := sharingRun(t, h, `
name: t
stages:
  - name: build
    actions:
      - {name: a, run: "sleep 0.3; mkdir -p scratch"}
      - {name: b, run: "sleep 0.1; mkdir -p dist && touch dist/app", outputs: [dist/app]}
      - {name: c, needs: [a, b], run: "true"}
`, false)
	if len(warnings) != 1 || !strings.Contains(warnings[0], "build/c may read scratch, which build/a created") {
		t.Errorf("warnings = %q, want one about scratch from build/a", warnings)
	}
}

// TestSharingNamesEveryActionThatMayHaveWritten: a and b run together and
// one of them made scratch; the warning cannot tell which, so it names
// both.
func TestSharingNamesEveryActionThatMayHaveWritten(t *testing.T) {
	h := newHarness(t, 2)
	_, _, warnings := sharingRun(t, h, `
name: t
stages:
  - name: build
    actions:
      - {name: a, run: "sleep 0.3"}
      - {name: b, run: "sleep 0.1; mkdir -p scratch"}
      - {name: c, needs: [a], run: "true"}
`, false)
	if len(warnings) != 1 || !strings.Contains(warnings[0], "scratch, which build/a or build/b (they ran at the same time) created") {
		t.Errorf("warnings = %q, want one naming both build/a and build/b", warnings)
	}
}
