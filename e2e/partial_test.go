package e2e

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// partialProject is a pipeline whose actions count their executions in
// counts: lint and test leave nothing behind, package leaves dist/app,
// which acceptance (a later stage) reads; production waits for approval.
func partialProject(t *testing.T, counts string) string {
	return project(t, map[string]string{"velocity.yml": `
env: { COUNTS: "` + counts + `" }
stages:
  - name: build
    actions:
      - { name: lint, run: 'echo x >> "$COUNTS/lint"' }
      - { name: test, run: 'echo x >> "$COUNTS/test"' }
      - name: package
        needs: [test]
        outputs: [dist/app]
        run: echo x >> "$COUNTS/package"; mkdir -p dist; echo app > dist/app
  - name: staging
    actions:
      - { name: deploy, run: 'echo x >> "$COUNTS/deploy"' }
      - { name: acceptance, needs: [deploy], run: 'echo x >> "$COUNTS/acceptance"; cat dist/app' }
  - name: production
    approval: manual
    actions:
      - { name: release, run: 'echo x >> "$COUNTS/release"' }
`})
}

// executions reads how often each action executed.
func partialExecutions(t *testing.T, counts string) map[string]int {
	t.Helper()
	got := map[string]int{}
	for _, name := range []string{"lint", "test", "package", "deploy", "acceptance", "release"} {
		b, _ := os.ReadFile(filepath.Join(counts, name))
		got[name] = strings.Count(string(b), "\n")
	}
	return got
}

func wantExecutions(t *testing.T, counts, when string, want map[string]int) {
	t.Helper()
	got := partialExecutions(t, counts)
	for name, n := range got {
		if n != want[name] {
			t.Errorf("%s: %s executed %d times in all, want %d", when, name, n, want[name])
		}
	}
}

func TestRunOneActionRunsOnlyItAndWhatItNeeds(t *testing.T) {
	e := newEnv(t)
	counts := t.TempDir()
	dir := partialProject(t, counts)

	// From elsewhere, with -C: the name is an action, not a directory.
	r := e.run(t.TempDir(), "-C", dir, "run", "test")
	if r.code != 0 {
		t.Fatalf("velocity run test: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// production's approval is not asked for: the stage is not part of it.
	wantExecutions(t, counts, "run test", map[string]int{"test": 1})
	if !strings.Contains(r.stdout, "velocity: partial run: test (1 of 6 actions)") || strings.Contains(r.stdout, "build/lint") {
		t.Errorf("velocity run test says:\n%s", r.stdout)
	}

	r = e.run(dir, "run", "package")
	if r.code != 0 {
		t.Fatalf("velocity run package: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "velocity: pulled in: build/test (needed by build/package)") ||
		!strings.Contains(r.stdout, "==> build/test cached: result of run 1") {
		t.Errorf("velocity run package does not pull test in from the cache:\n%s", r.stdout)
	}
	wantExecutions(t, counts, "run package", map[string]int{"test": 1, "package": 1})

	show := e.run(dir, "show", "2")
	if !strings.Contains(show.stdout, "partial run: package") || strings.Contains(show.stdout, "lint") {
		t.Errorf("velocity show 2:\n%s", show.stdout)
	}
	runs := e.run(dir, "runs")
	if !strings.Contains(runs.stdout, "SELECTION") || !strings.Contains(runs.stdout, "package\n") {
		t.Errorf("velocity runs:\n%s", runs.stdout)
	}
}

func TestRunOneStage(t *testing.T) {
	e := newEnv(t)
	counts := t.TempDir()
	dir := partialProject(t, counts)
	if r := e.run(dir, "run", "build"); r.code != 0 {
		t.Fatalf("velocity run build: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	wantExecutions(t, counts, "run build", map[string]int{"lint": 1, "test": 1, "package": 1})
}

func TestRunOnlyAGlob(t *testing.T) {
	e := newEnv(t)
	counts := t.TempDir()
	dir := partialProject(t, counts)
	if r := e.run(dir, "run", "--only", "build/*"); r.code != 0 {
		t.Fatalf("velocity run --only 'build/*': exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	wantExecutions(t, counts, "--only build/*", map[string]int{"lint": 1, "test": 1, "package": 1})
}

func TestRunSkip(t *testing.T) {
	e := newEnv(t)
	counts := t.TempDir()
	dir := partialProject(t, counts)
	r := e.run(dir, "run", "--skip", "lint", "--approve")
	if r.code != 0 {
		t.Fatalf("velocity run --skip lint: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	wantExecutions(t, counts, "--skip lint", map[string]int{"test": 1, "package": 1, "deploy": 1, "acceptance": 1, "release": 1})

	// package needs test only for its order: skipping test is fine...
	if r := e.run(dir, "run", "package", "--skip", "test"); r.code != 0 {
		t.Fatalf("velocity run package --skip test: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// ...but acceptance reads package's outputs.
	r = e.run(dir, "run", "acceptance", "--skip", "package")
	if r.code != 2 || !strings.Contains(r.stderr, "cannot skip build/package: staging/acceptance reads its outputs (dist/app)") {
		t.Errorf("velocity run acceptance --skip package: exit %d, want 2\n%s", r.code, r.stderr)
	}
}

func TestRunUnknownNameSuggests(t *testing.T) {
	e := newEnv(t)
	counts := t.TempDir()
	dir := partialProject(t, counts)
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"run", "tset"}, `"tset" is neither a stage nor an action (did you mean "test"?)`},
		{[]string{"run", "--skip", "lnt"}, `--skip lnt: "lnt" is neither a stage nor an action (did you mean "lint"?)`},
		{[]string{"run", "build/pakage"}, `"build/pakage" matches no action (did you mean "build/package"?)`},
		// A directory given where a name goes: say how to run it.
		{[]string{"run", dir}, "to run the project in " + dir + ", use: velocity run -C " + dir},
	} {
		r := e.run(dir, tc.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.says) {
			t.Errorf("velocity %s: exit %d, want 2 saying %q\n%s", strings.Join(tc.args, " "), r.code, tc.says, r.stderr)
		}
	}
	wantExecutions(t, counts, "after mistakes", nil)
	if runs := e.run(dir, "runs"); !strings.Contains(runs.stdout, "no runs yet") {
		t.Errorf("a mistyped name recorded a run:\n%s", runs.stdout)
	}
}

// TestDownstreamActionPullsItsUpstreamFromTheCache: selecting an action of
// a later stage runs what it reads, then takes it from the cache.
func TestDownstreamActionPullsItsUpstreamFromTheCache(t *testing.T) {
	e := newEnv(t)
	counts := t.TempDir()
	dir := partialProject(t, counts)
	r := e.run(dir, "run", "staging/acceptance")
	if r.code != 0 {
		t.Fatalf("first: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "velocity: pulled in: build/test, build/package, staging/deploy (needed by staging/acceptance)") ||
		!strings.Contains(r.stdout, "[staging/acceptance] app") {
		t.Errorf("first run:\n%s", r.stdout)
	}
	wantExecutions(t, counts, "first", map[string]int{"test": 1, "package": 1, "deploy": 1, "acceptance": 1})

	// A full run takes all of them from the partial run: leaving lint out
	// did not change the keys.
	if r := e.run(dir, "run", "--approve"); r.code != 0 {
		t.Fatalf("full run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	wantExecutions(t, counts, "full run", map[string]int{"lint": 1, "test": 1, "package": 1, "deploy": 1, "acceptance": 1, "release": 1})

	// The second time, the upstream comes from the cache.
	os.WriteFile(filepath.Join(dir, "README"), []byte("changed\n"), 0o644)
	r = e.run(dir, "run", "staging/acceptance")
	if r.code != 0 {
		t.Fatalf("second: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// The new file is an input of every action (no inputs: declared):
	// everything executes again, which shows the workspace, not the
	// selection, decides.
	wantExecutions(t, counts, "after a change", map[string]int{"lint": 1, "test": 2, "package": 2, "deploy": 2, "acceptance": 2, "release": 1})
	r = e.run(dir, "run", "acceptance")
	if r.code != 0 {
		t.Fatalf("third: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, id := range []string{"build/test", "build/package", "staging/deploy", "staging/acceptance"} {
		if !strings.Contains(r.stdout, "==> "+id+" cached: result of run 3") {
			t.Errorf("unchanged: %s not from the cache:\n%s", id, r.stdout)
		}
	}
	wantExecutions(t, counts, "unchanged", map[string]int{"lint": 1, "test": 2, "package": 2, "deploy": 2, "acceptance": 2, "release": 1})
	show := e.run(dir, "show", "4")
	if !strings.Contains(show.stdout, "partial run: acceptance") {
		t.Errorf("velocity show 4:\n%s", show.stdout)
	}

	// rerun repeats the selection.
	r = e.run(dir, "rerun", "4")
	if r.code != 0 || !strings.Contains(r.stdout, "velocity: partial run: acceptance") {
		t.Errorf("rerun 4: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	wantExecutions(t, counts, "rerun", map[string]int{"lint": 1, "test": 3, "package": 3, "deploy": 3, "acceptance": 3, "release": 1})
}

// TestSelectedStageStillWaitsForApproval: a partial run that reaches a
// stage with approval: manual waits for it like a full run.
func TestSelectedStageStillWaitsForApproval(t *testing.T) {
	e := newEnv(t)
	counts := t.TempDir()
	dir := partialProject(t, counts)
	cmd, out := startRun(t, e, dir, "release")
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "stage production waits for approval") {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("never waited for approval:\n%s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r := e.run(dir, "approve", "last", "--reject"); r.code != 0 {
		t.Fatalf("velocity approve --reject: exit %d %s", r.code, r.stderr)
	}
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(out.String(), "pulled in: build/test, build/package (needed by production/release)") {
		t.Errorf("rejected: exit %d, want 1\n%s", code, out)
	}
	wantExecutions(t, counts, "rejected", map[string]int{"test": 1, "package": 1})
}

// TestPartialRunWithoutDeploysNeedsNoProxy: 'velocity run test' in a
// project that deploys does not start the proxy, so a taken proxy port
// is no reason to fail.
func TestPartialRunWithoutDeploysNeedsNoProxy(t *testing.T) {
	e := newEnv(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := project(t, map[string]string{"velocity.yml": `
stages:
  - name: build
    actions:
      - { name: test, run: "true" }
      - { name: package, run: "mkdir -p dist && cp /bin/sleep dist/app", outputs: [dist/app] }
  - name: staging
    actions:
      - { name: deploy, deploy: web, environment: staging }
services:
  web:
    from: package
    run: ./dist/app 60
environments:
  staging: {}
`})
	r := e.run(dir, "run", "test", "--proxy-addr", busy.Addr().String())
	if r.code != 0 {
		t.Errorf("velocity run test with the proxy's port taken: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
