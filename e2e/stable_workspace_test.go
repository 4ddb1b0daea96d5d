package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/executor/executortest"
)

// workspaceOf reads the workspace the journal recorded for run id.
func workspaceOf(t *testing.T, e *env, id string) string {
	t.Helper()
	show := e.run(t.TempDir(), "show", id)
	m := regexp.MustCompile(`(?m)^workspace: (.+)$`).FindStringSubmatch(show.stdout)
	if m == nil {
		t.Fatalf("velocity show %s names no workspace:\n%s%s", id, show.stdout, show.stderr)
	}
	return m[1]
}

// A project's runs work in the same directory, so Go's test cache hits for
// the packages a change did not touch: the second run tests only b.
func TestGoTestCacheHitsAcrossRuns(t *testing.T) {
	requireTool(t, "go")
	requireTool(t, "git")
	e := newEnv(t)
	dir := project(t, map[string]string{
		"velocity.yml": `
stages:
  - name: build
    actions:
      - name: test
        run: go test ./...
        cache: false
`,
		"go.mod":      "module example.com/two\n\ngo 1.26\n",
		"a/a.go":      "package a\n\nfunc A() string { return \"a\" }\n",
		"a/a_test.go": "package a\n\nimport \"testing\"\n\nfunc TestA(t *testing.T) {\n\tif A() != \"a\" {\n\t\tt.Fatal(A())\n\t}\n}\n",
		"b/b.go":      "package b\n\nfunc B() string { return \"hello\" }\n",
		"b/b_test.go": "package b\n\nimport \"testing\"\n\nfunc TestB(t *testing.T) { t.Log(B()) }\n",
	})
	git(t, dir, "init", "-q")
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-qm", "two packages")

	r := e.run(dir, "run")
	if r.code != 0 {
		t.Fatalf("first run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// A change the compiler cannot fold away: the test binary differs.
	os.WriteFile(filepath.Join(dir, "b/b.go"), []byte("package b\n\nfunc B() string { return \"hello, world\" }\n"), 0o644)
	r = e.run(dir, "run")
	if r.code != 0 {
		t.Fatalf("second run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !regexp.MustCompile(`ok  \texample.com/two/a\t\(cached\)`).MatchString(r.stdout) {
		t.Errorf("the untouched package a was tested again:\n%s", r.stdout)
	}
	if !regexp.MustCompile(`ok  \texample.com/two/b\t[0-9.]+s`).MatchString(r.stdout) {
		t.Errorf("the changed package b was not tested again:\n%s", r.stdout)
	}
	if ws1, ws2 := workspaceOf(t, e, "1"), workspaceOf(t, e, "2"); ws1 != ws2 || !strings.HasPrefix(ws1, filepath.Join(e.home, "workspaces")+string(filepath.Separator)) {
		t.Errorf("workspaces %s and %s, want one stable directory under the data directory", ws1, ws2)
	}
}

// The workspace equals the project at the start of every run: a file
// deleted from the project is gone, and what an earlier run created is not
// there. The last run's files stay afterwards, for paths in its output.
// rerun works in the same workspace, brought back to the commit.
func TestWorkspaceHoldsOnlyTheSnapshot(t *testing.T) {
	requireTool(t, "git")
	e := newEnv(t)
	dir := project(t, map[string]string{
		"velocity.yml": `
stages:
  - name: s
    actions:
      - name: a
        cache: false
        run: |
          test ! -e leftover.txt || { echo "leftover.txt of an earlier run"; exit 1; }
          test ! -e out || { echo "out/ of an earlier run"; exit 1; }
          ls
          echo made > leftover.txt
          mkdir -p out && echo x > out/y
`,
		"keep.txt": "keep\n",
		"gone.txt": "gone\n",
	})
	git(t, dir, "init", "-q")
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-qm", "first")

	if r := e.run(dir, "run"); r.code != 0 || !strings.Contains(r.stdout, "[s/a] gone.txt") {
		t.Fatalf("first run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	os.Remove(filepath.Join(dir, "gone.txt"))
	r := e.run(dir, "run", "--keep-workspace")
	if r.code != 0 {
		t.Fatalf("second run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout, "gone.txt") || !strings.Contains(r.stdout, "[s/a] keep.txt") {
		t.Errorf("second run should list keep.txt and not gone.txt:\n%s", r.stdout)
	}
	ws := workspaceOf(t, e, "2")
	if !strings.Contains(r.stdout, "velocity: workspace "+ws+"\n") {
		t.Errorf("--keep-workspace does not print %s:\n%s", ws, r.stdout)
	}
	if _, err := os.Stat(filepath.Join(ws, "leftover.txt")); err != nil {
		t.Errorf("the workspace of the last run is not kept: %v", err)
	}

	// Run 2 included an uncommitted deletion: rerun takes its commit,
	// which has gone.txt, in the same workspace.
	r = e.run(dir, "rerun", "2")
	if r.code != 0 || !strings.Contains(r.stdout, "[s/a] gone.txt") {
		t.Errorf("rerun: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if got := workspaceOf(t, e, "3"); got != ws {
		t.Errorf("rerun worked in %s, want %s", got, ws)
	}

	// Workspaces cost disk space; cleaning them costs the next run a
	// full copy, nothing more.
	r = e.run(dir, "workspaces", "clean")
	if r.code != 0 || !strings.Contains(r.stdout, "removed "+ws+"\n") {
		t.Errorf("workspaces clean: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(ws); err == nil {
		t.Errorf("%s still exists after workspaces clean", ws)
	}
	if r := e.run(dir, "run"); r.code != 0 {
		t.Errorf("run after workspaces clean: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// Two runs of one project at once get two workspaces; a run killed with
// SIGKILL frees its workspace, and the next run there finds nothing of it.
func TestConcurrentRunsAndAKilledRunsWorkspace(t *testing.T) {
	requireTool(t, "git")
	e := newEnv(t)
	pids := t.TempDir()
	dir := project(t, map[string]string{"velocity.yml": `
stages:
  - name: s
    actions:
      - name: a
        cache: false
        env: { PIDS: "` + pids + `" }
        run: |
          test ! -e junk.txt || { echo "junk.txt of an earlier run"; exit 1; }
          echo junk > junk.txt
          echo $$ > "$PIDS/$VELOCITY_RUN_ID.pid"
          while [ ! -e "$PIDS/go" ]; do sleep 0.05; done
`})
	git(t, dir, "init", "-q")
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-qm", "first")

	killed, killedOut := startRun(t, e, dir)
	sh := atoi(t, waitFile(t, filepath.Join(pids, "1.pid")))
	second, secondOut := startRun(t, e, dir)
	waitFile(t, filepath.Join(pids, "2.pid"))
	ws1, ws2 := workspaceOf(t, e, "1"), workspaceOf(t, e, "2")
	if ws2 != ws1+"-2" {
		t.Errorf("concurrent runs work in %s and %s, want the second in %s-2", ws1, ws2, ws1)
	}

	killed.Process.Signal(syscall.SIGKILL)
	killed.Wait()
	executortest.WaitGone(t, 5*time.Second, sh)
	os.WriteFile(filepath.Join(pids, "go"), nil, 0o644)
	if err := second.Wait(); err != nil {
		t.Fatalf("second run: %v\n%s", err, secondOut)
	}
	r := e.run(dir, "run")
	if r.code != 0 {
		t.Fatalf("run after the kill: exit %d\n%s%s\n(killed run: %s)", r.code, r.stdout, r.stderr, killedOut)
	}
	if got := workspaceOf(t, e, "3"); got != ws1 {
		t.Errorf("run after the kill worked in %s, want the freed %s", got, ws1)
	}
}
