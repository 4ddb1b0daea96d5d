package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/artifact"
	"github.com/velocity-ci/velocity/internal/engine"
	"github.com/velocity-ci/velocity/internal/expr"
	"github.com/velocity-ci/velocity/internal/plan"
	"github.com/velocity-ci/velocity/internal/secret"
	"github.com/velocity-ci/velocity/internal/spec"
	"github.com/velocity-ci/velocity/internal/store"
)

// keyedPipeline has an action for each way a result-cache key is made:
// up declares its inputs, act depends on up's outputs, an env value, a
// secret, a sidecar and a run variable its script names, and snap
// declares no inputs, so it keys on the whole workspace.
const keyedPipeline = `name: p
stages:
  - name: s
    actions:
      - name: up
        run: cat src/in.txt > up.out
        inputs: [src/**]
        outputs: [up.out]
      - name: act
        needs: [up]
        run: cat up.out data.txt > act.out; echo "$GREETING $VELOCITY_BRANCH"; test -n "$SIDE_PORT"
        inputs: [data.txt]
        outputs: [act.out]
        env: {GREETING: hi}
        secrets: [TOKEN]
        sidecars:
          - name: side
            run: exec sleep 30
            ready: "true"
      - name: snap
        run: cat other.txt
`

// keyRun is one run of keyedPipeline (with edits) in a fresh workspace.
type keyRun struct {
	edits map[string]string // old → new in keyedPipeline
	files map[string]string // workspace files that differ from the base
	env   []string          // added to the run's base environment
	vars  []string          // replacing VELOCITY_BRANCH=main
	token string            // TOKEN's value, when not the base's
}

// TestResultCacheKeyComponents: an unchanged run reuses every result; a
// change to one thing a result depends on re-runs the actions that
// depend on it and only those.
func TestResultCacheKeyComponents(t *testing.T) {
	h := newHarness(t, 2)
	blobs, err := artifact.OpenBlobs(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	h.eng.Blobs = blobs
	secrets, err := secret.Open(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	h.eng.Secrets = secrets

	run := func(r keyRun) map[string]store.Action {
		t.Helper()
		token := "s3cret"
		if r.token != "" {
			token = r.token
		}
		if err := secrets.Set("TOKEN", []byte(token)); err != nil {
			t.Fatal(err)
		}
		files := map[string]string{"src/in.txt": "in", "data.txt": "data", "other.txt": "other"}
		for p, c := range r.files {
			files[p] = c
		}
		h.dir = t.TempDir()
		for p, c := range files {
			if err := os.MkdirAll(filepath.Join(h.dir, filepath.Dir(p)), 0o755); err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(h.dir, p), c)
		}
		yml := keyedPipeline
		for old, new := range r.edits {
			if !strings.Contains(yml, old) {
				t.Fatalf("edit %q matches nothing", old)
			}
			yml = strings.Replace(yml, old, new, 1)
		}
		p, err := spec.Parse("velocity.yml", []byte(yml))
		if err != nil {
			t.Fatal(err)
		}
		vars := []string{"VELOCITY_BRANCH=main"}
		if r.vars != nil {
			vars = r.vars
		}
		acts := h.execute(plan.Compile(p), engine.Run{
			Env:     append([]string{"PATH=" + os.Getenv("PATH")}, r.env...),
			Vars:    vars,
			TempDir: t.TempDir(),
		})
		return acts
	}
	want := func(t *testing.T, acts map[string]store.Action, executed ...string) {
		t.Helper()
		for _, a := range []string{"up", "act", "snap"} {
			st := acts["s/"+a].Status
			wantSt := store.Cached
			for _, e := range executed {
				if e == a {
					wantSt = store.Succeeded
				}
			}
			if st != wantSt {
				t.Errorf("%s is %s (%s), want %s", a, st, acts["s/"+a].Reason, wantSt)
			}
		}
	}

	first := run(keyRun{})
	want(t, first, "up", "act", "snap")
	want(t, run(keyRun{}) /* nothing executed */)

	for _, c := range []struct {
		name     string
		change   keyRun
		executed []string
	}{
		{"script", keyRun{edits: map[string]string{`> act.out;`: `>act.out;`}}, []string{"act"}},
		{"env value", keyRun{edits: map[string]string{"GREETING: hi": "GREETING: hello"}}, []string{"act"}},
		{"run variable the script names", keyRun{vars: []string{"VELOCITY_BRANCH=dev"}}, []string{"act"}},
		{"run variable no script names", keyRun{vars: []string{"VELOCITY_BRANCH=main", "VELOCITY_COMMIT=abc"}}, nil},
		{"terminal type", keyRun{env: []string{"TERM=dumb"}}, nil},
		{"base environment", keyRun{env: []string{"LANG=C"}}, []string{"up", "act", "snap"}},
		{"declared input", keyRun{files: map[string]string{"data.txt": "new data"}}, []string{"act", "snap"}},
		{"undeclared file", keyRun{files: map[string]string{"other.txt": "new other"}}, []string{"snap"}},
		{"upstream output", keyRun{files: map[string]string{"src/in.txt": "new in"}}, []string{"up", "act", "snap"}},
		// up runs again but writes the same output: act keys on what up
		// made, not on how.
		{"upstream script, same output", keyRun{edits: map[string]string{"cat src/in.txt > up.out": "cat src/in.txt >up.out"}}, []string{"up"}},
		{"secret value", keyRun{token: "other"}, []string{"act"}},
		{"sidecar", keyRun{edits: map[string]string{"exec sleep 30": "exec sleep 31"}}, []string{"act"}},
		{"declared outputs", keyRun{edits: map[string]string{"outputs: [act.out]": "outputs: [act.*]"}}, []string{"act"}},
		{"action name", keyRun{edits: map[string]string{"name: snap": "name: snap2"}}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			acts := run(c.change)
			if c.name == "action name" {
				// A renamed action is a new action: nothing to reuse.
				if acts["s/snap2"].Status != store.Succeeded {
					t.Errorf("renamed snap2 is %s, want executed", acts["s/snap2"].Status)
				}
				return
			}
			want(t, acts, c.executed...)
		})
	}

	// The keys are stable: after all those runs, the base still hits.
	t.Run("unchanged again", func(t *testing.T) {
		acts := run(keyRun{})
		want(t, acts)
		for _, a := range []string{"s/up", "s/act", "s/snap"} {
			if acts[a].CacheKey != first[a].CacheKey || acts[a].CachedFrom != first[a].RunID {
				t.Errorf("%s: key %s from run %d, want %s from run %d", a, acts[a].CacheKey, acts[a].CachedFrom, first[a].CacheKey, first[a].RunID)
			}
		}
	})

	// A new Velocity version keys everything anew.
	t.Run("velocity version", func(t *testing.T) {
		h.eng.Version = "next"
		defer func() { h.eng.Version = "" }()
		want(t, run(keyRun{}), "up", "act", "snap")
	})
}

// execute records p as a run and executes it with r's settings; logs and
// temporary files stay outside the workspace, so that they do not change
// the key of an action without declared inputs.
func (h *harness) execute(p *plan.Plan, r engine.Run) map[string]store.Action {
	h.t.Helper()
	for i, s := range p.Stages {
		s.Index = i
	}
	var actions []store.Action
	p.Each(func(s *plan.Stage, n *plan.Node) {
		actions = append(actions, store.Action{StageIndex: s.Index, Stage: s.Name, Name: n.Name, Kind: store.Kind(n.Kind), Needs: n.NeedNames})
	})
	id, err := h.store.CreateRun(context.Background(), store.Run{Project: "t", Status: store.Running, Created: time.Now()}, actions)
	if err != nil {
		h.t.Fatal(err)
	}
	r.ID, r.Plan, r.Dir, r.Facts = id, p, h.dir, expr.Facts{}
	r.LogDir = filepath.Join(h.t.TempDir(), "logs")
	if _, err := h.eng.Execute(context.Background(), r); err != nil {
		h.t.Fatalf("Execute: %v", err)
	}
	got, err := h.store.Actions(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	m := map[string]store.Action{}
	for _, a := range got {
		m[a.Stage+"/"+a.Name] = a
	}
	return m
}

// A dependency cache is restored into a fresh workspace: exactly when
// its cache_key files are unchanged, else the newest entry, saying which,
// and saved again under the new key.
func TestDependencyCacheRestoresByKey(t *testing.T) {
	h := newHarness(t, 2)
	blobs, err := artifact.OpenBlobs(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	h.eng.Blobs = blobs
	p, err := spec.Parse("velocity.yml", []byte(`name: p
stages:
  - name: s
    actions:
      - name: deps
        run: if [ -f deps/lib ]; then echo "reused $(cat deps/lib)"; else mkdir -p deps && cp lock deps/lib && echo fresh; fi
        inputs: []
        cache:
          paths: [deps]
          key: [lock]
          result: false
`))
	if err != nil {
		t.Fatal(err)
	}
	run := func(lock string) string {
		t.Helper()
		h.dir = t.TempDir()
		writeFile(t, filepath.Join(h.dir, "lock"), lock)
		acts := h.execute(plan.Compile(p), engine.Run{Env: []string{"PATH=" + os.Getenv("PATH")}, TempDir: t.TempDir()})
		a := acts["s/deps"]
		if a.Status != store.Succeeded {
			t.Fatalf("deps: %+v", a)
		}
		atts, err := h.store.Attempts(context.Background(), a.RunID)
		if err != nil || len(atts) != 1 {
			t.Fatalf("attempts %+v, %v", atts, err)
		}
		return readFile(t, atts[0].Log)
	}
	for i, c := range []struct{ lock, want string }{
		{"v1", "fresh\n"},
		{"v1", "velocity: restored dependency cache deps (exact key)\nreused v1\n"},
		{"v2", "velocity: restored dependency cache deps (newest entry, key differs)\nreused v1\n"},
		{"v2", "velocity: restored dependency cache deps (exact key)\nreused v1\n"},
		{"v1", "velocity: restored dependency cache deps (exact key)\nreused v1\n"},
	} {
		if got := run(c.lock); got != c.want {
			t.Errorf("run %d with lock %s: log %q, want %q", i+1, c.lock, got, c.want)
		}
	}
}

// velocity rerun --failed takes the succeeded actions' results from the
// run it names, outputs and log included, even for an action kept out of
// the result cache.
func TestRerunReusesResultsOfUncachedActions(t *testing.T) {
	h := newHarness(t, 2)
	blobs, err := artifact.OpenBlobs(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	h.eng.Blobs = blobs
	p, err := spec.Parse("velocity.yml", []byte(`name: p
stages:
  - name: s
    actions:
      - name: make
        run: echo made > made.txt; echo making
        inputs: []
        outputs: [made.txt]
        cache: false
`))
	if err != nil {
		t.Fatal(err)
	}
	h.dir = t.TempDir()
	first := h.execute(plan.Compile(p), engine.Run{Env: []string{"PATH=" + os.Getenv("PATH")}, TempDir: t.TempDir()})
	if first["s/make"].Status != store.Succeeded {
		t.Fatalf("first run: %+v", first["s/make"])
	}
	h.dir = t.TempDir()
	acts := h.execute(plan.Compile(p), engine.Run{
		Env: []string{"PATH=" + os.Getenv("PATH")}, TempDir: t.TempDir(),
		Reuse: map[store.Key]int64{{Stage: "s", Name: "make"}: first["s/make"].RunID},
	})
	if a := acts["s/make"]; a.Status != store.Cached || a.CachedFrom != first["s/make"].RunID {
		t.Fatalf("rerun: %+v; want the result of run %d", a, first["s/make"].RunID)
	}
	if got := readFile(t, filepath.Join(h.dir, "made.txt")); got != "made\n" {
		t.Errorf("restored made.txt: %q", got)
	}
	atts, err := h.store.Attempts(context.Background(), acts["s/make"].RunID)
	if err != nil || len(atts) != 1 {
		t.Fatalf("attempts %+v, %v", atts, err)
	}
	if got := readFile(t, atts[0].Log); got != "making\n" {
		t.Errorf("rerun log %q, want the first run's", got)
	}
}

// A secret that cannot be had fails the action before its script runs,
// with no exit code (-1) and the reason.
func TestMissingSecretFailsBeforeTheScript(t *testing.T) {
	for _, c := range []struct {
		name    string
		secrets bool
		reason  string
	}{
		{"no secret store", false, "secrets are not available here"},
		{"unknown secret", true, "secret NOPE: "},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, 2)
			if c.secrets {
				s, err := secret.Open(t.TempDir(), "")
				if err != nil {
					t.Fatal(err)
				}
				h.eng.Secrets = s
			}
			n := node("use", "touch ran")
			n.Secrets = []string{"NOPE"}
			_, acts := h.run(context.Background(), &plan.Plan{Stages: []*plan.Stage{stage("s", n)}})
			if a := acts["s/use"]; a.Status != store.Failed || a.ExitCode != -1 || !strings.Contains(a.Reason, c.reason) {
				t.Errorf("use: %s, exit code %d, reason %q; want failed, -1, %q", a.Status, a.ExitCode, a.Reason, c.reason)
			}
			if fileExists(filepath.Join(h.dir, "ran")) {
				t.Error("the script ran without its secret")
			}
		})
	}
}
