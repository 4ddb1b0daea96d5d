package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRerunFailedExecutesOnlyWhatFailedAndWasSkipped(t *testing.T) {
	e := newEnv(t)
	counts := t.TempDir()
	flag := filepath.Join(t.TempDir(), "fixed")
	dir := project(t, map[string]string{"velocity.yml": `
env: { COUNTS: "` + counts + `", FLAG: "` + flag + `" }
stages:
  - name: build
    actions:
      - name: compile
        outputs: [bin/app]
        run: echo x >> "$COUNTS/compile"; mkdir -p bin; echo app > bin/app
      - name: lint
        run: echo x >> "$COUNTS/lint"
  - name: deploy
    actions:
      - name: upload
        run: echo x >> "$COUNTS/upload"; cat bin/app; test -e "$FLAG"
      - name: notify
        needs: [upload]
        run: echo x >> "$COUNTS/notify"
`})
	git(t, dir, "init", "-q")
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-qm", "c")
	if r := e.run(dir, "run"); r.code != 1 {
		t.Fatalf("first run: exit %d, want 1\n%s", r.code, r.stdout)
	}
	os.WriteFile(flag, nil, 0o644) // the flaky dependency is back
	r := e.run(dir, "rerun", "1", "--failed")
	if r.code != 0 {
		t.Fatalf("rerun --failed: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	count := func(name string) int {
		b, _ := os.ReadFile(filepath.Join(counts, name))
		return strings.Count(string(b), "\n")
	}
	for name, want := range map[string]int{"compile": 1, "lint": 1, "upload": 2, "notify": 1} {
		if got := count(name); got != want {
			t.Errorf("%s executed %d times in all, want %d", name, got, want)
		}
	}
	if !strings.Contains(r.stdout, "[deploy/upload] app") {
		t.Errorf("compile's output was not restored for upload:\n%s", r.stdout)
	}
	show := e.run(dir, "show", "2")
	if !strings.Contains(show.stdout, "result of run 1") {
		t.Errorf("show of the rerun:\n%s", show.stdout)
	}
	// A plain rerun executes everything again.
	if r := e.run(dir, "rerun", "2"); r.code != 0 {
		t.Fatalf("rerun: exit %d\n%s", r.code, r.stdout)
	}
	if count("compile") != 2 || count("upload") != 3 {
		t.Errorf("plain rerun did not execute everything")
	}
	if r := e.run(dir, "rerun", "3", "--failed"); r.code != 2 || !strings.Contains(r.stderr, "nothing that failed") {
		t.Errorf("rerun --failed of a green run: exit %d %s", r.code, r.stderr)
	}
}
