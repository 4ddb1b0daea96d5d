package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// counting actions append a line to a file outside the workspace each time
// they really execute, so a test can count executions.
func countingProject(t *testing.T, counts string) string {
	return project(t, map[string]string{
		"velocity.yml": `
env: { COUNTS: "` + counts + `" }
stages:
  - name: build
    actions:
      - name: compile
        inputs: ["src/**"]
        outputs: [dist/app.txt]
        run: |
          echo compile >> "$COUNTS/compile"
          mkdir -p dist && cat src/*.txt > dist/app.txt
      - name: docs
        inputs: ["docs/**"]
        outputs: [dist/docs.txt]
        run: |
          echo docs >> "$COUNTS/docs"
          mkdir -p dist && cat docs/*.md > dist/docs.txt
      - name: check
        needs: [compile]
        inputs: []
        run: |
          echo check >> "$COUNTS/check"
          grep -q hello dist/app.txt
  - name: ship
    actions:
      - name: package
        outputs: ["dist/**"]
        run: |
          echo package >> "$COUNTS/package"
          tar -cf dist/bundle.tar dist/app.txt dist/docs.txt
`,
		"src/a.txt":    "hello\n",
		"src/b.txt":    "world\n",
		"docs/read.md": "docs\n",
	})
}

func executions(t *testing.T, counts string) map[string]int {
	got := map[string]int{}
	for _, name := range []string{"compile", "docs", "check", "package"} {
		b, _ := os.ReadFile(filepath.Join(counts, name))
		got[name] = strings.Count(string(b), "\n")
	}
	return got
}

func TestResultCacheReRunsOnlyWhatChanged(t *testing.T) {
	e := newEnv(t)
	counts := t.TempDir()
	dir := countingProject(t, counts)
	git(t, dir, "init", "-q")
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-qm", "c")

	if r := e.run(dir, "run"); r.code != 0 {
		t.Fatalf("first run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r := e.run(dir, "run")
	if r.code != 0 {
		t.Fatalf("second run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, a := range []string{"build/compile", "build/docs", "build/check", "ship/package"} {
		if !strings.Contains(r.stdout, "==> "+a+" cached: result of run 1") {
			t.Errorf("second run: %s not cached:\n%s", a, r.stdout)
		}
	}
	if got := executions(t, counts); got["compile"] != 1 || got["docs"] != 1 || got["check"] != 1 || got["package"] != 1 {
		t.Errorf("an unchanged re-run executed something: %v", got)
	}
	// A cached action's log is the original's.
	if logs := e.run(dir, "logs", "last", "compile"); logs.code != 0 {
		t.Errorf("logs of a cached action: exit %d %s", logs.code, logs.stderr)
	}

	// Changing a source file re-runs compile (its inputs), check (its
	// need's output changed) and package (default inputs: every file); docs
	// reads none of it and stays cached.
	os.WriteFile(filepath.Join(dir, "src/b.txt"), []byte("there\n"), 0o644)
	r = e.run(dir, "run")
	if r.code != 0 {
		t.Fatalf("third run: exit %d\n%s", r.code, r.stdout)
	}
	got := executions(t, counts)
	want := map[string]int{"compile": 2, "docs": 1, "check": 2, "package": 2}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("after changing src/b.txt: %s executed %d times in all, want %d (%v)", k, got[k], v, got)
		}
	}
	// The restored output of a cached action is really there: package
	// bundled docs.txt from the cache.
	extract := t.TempDir()
	if r := e.run(dir, "artifacts", "last", "package", "--to", extract); r.code != 0 {
		t.Fatalf("artifacts --to: exit %d %s", r.code, r.stderr)
	}
	if b, err := os.ReadFile(filepath.Join(extract, "dist/app.txt")); err != nil || string(b) != "hello\nthere\n" {
		t.Errorf("extracted dist/app.txt = %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(extract, "dist/bundle.tar")); err != nil {
		t.Errorf("extracted bundle: %v", err)
	}
	list := e.run(dir, "artifacts", "last")
	if !strings.Contains(list.stdout, "build/docs") || !strings.Contains(list.stdout, "dist/docs.txt") {
		t.Errorf("artifacts listing:\n%s", list.stdout)
	}

	// --no-cache executes everything.
	e.run(dir, "run", "--no-cache")
	if got := executions(t, counts); got["docs"] != 2 {
		t.Errorf("--no-cache: docs executed %d times in all, want 2", got["docs"])
	}
}

func TestCacheKeyCorrectness(t *testing.T) {
	e := newEnv(t)
	counts := t.TempDir()
	yml := func(script, env string) string {
		return `
env: { COUNTS: "` + counts + `" }
stages:
  - name: s
    actions:
      - name: a
        env: { MODE: "` + env + `" }
        outputs: [out.txt]
        run: |
          echo x >> "$COUNTS/a"
          ` + script + `
      - name: b
        needs: [a]
        inputs: []
        run: echo x >> "$COUNTS/b"
`
	}
	dir := project(t, map[string]string{"velocity.yml": yml("echo one > out.txt", "x"), "in.txt": "1"})
	runs := func() (int, int) {
		t.Helper()
		if r := e.run(dir, "run"); r.code != 0 {
			t.Fatalf("exit %d\n%s", r.code, r.stdout)
		}
		a, _ := os.ReadFile(filepath.Join(counts, "a"))
		b, _ := os.ReadFile(filepath.Join(counts, "b"))
		return strings.Count(string(a), "\n"), strings.Count(string(b), "\n")
	}
	step := func(what string, change func(), wantA, wantB int) {
		t.Helper()
		change()
		if a, b := runs(); a != wantA || b != wantB {
			t.Errorf("%s: a executed %d times, b %d; want %d and %d", what, a, b, wantA, wantB)
		}
	}
	write := func(name, body string) func() {
		return func() { os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644) }
	}
	step("first run", func() {}, 1, 1)
	step("nothing changed", func() {}, 1, 1)
	step("an input file changed", write("in.txt", "2"), 2, 1) // same output: b stays cached
	step("the env changed", write("velocity.yml", yml("echo one > out.txt", "y")), 3, 1)
	step("the script changed, output too", write("velocity.yml", yml("echo two > out.txt", "y")), 4, 2)
	step("back to a known state", write("velocity.yml", yml("echo one > out.txt", "y")), 4, 2)
}

func TestTamperedBlobIsDetectedAndNotUsed(t *testing.T) {
	e := newEnv(t)
	counts := t.TempDir()
	dir := project(t, map[string]string{"velocity.yml": `
stages:
  - name: s
    actions:
      - name: a
        outputs: [out.txt]
        run: echo x >> "` + counts + `/a"; echo original > out.txt
      - name: b
        needs: [a]
        cache: false
        run: cat out.txt
`})
	if r := e.run(dir, "run"); r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stdout)
	}
	// Corrupt every blob of the store (outputs and logs).
	blobs, _ := filepath.Glob(filepath.Join(e.home, "blobs", "sha256", "*", "*"))
	if len(blobs) == 0 {
		t.Fatalf("no blobs under %s", e.home)
	}
	for _, b := range blobs {
		os.Chmod(b, 0o644)
		os.WriteFile(b, []byte("tampered"), 0o644)
	}
	r := e.run(dir, "run")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "[s/b] original") || strings.Contains(r.stdout, "tampered") {
		t.Errorf("a tampered blob was used:\n%s", r.stdout)
	}
	if !regexp.MustCompile(`unusable|corrupt`).MatchString(r.stdout + r.stderr) {
		t.Errorf("no warning about the corrupt cache entry:\n%s%s", r.stdout, r.stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(counts, "a")); strings.Count(string(b), "\n") != 2 {
		t.Errorf("a must have executed again after its cached output was found corrupt")
	}
}

func TestDependencyCacheRestoresPathsWithFallback(t *testing.T) {
	e := newEnv(t)
	dir := project(t, map[string]string{
		"lock.txt": "v1\n",
		"velocity.yml": `
stages:
  - name: s
    actions:
      - name: install
        cache:
          paths: [.deps]
          key: [lock.txt]
          result: false
        run: |
          if [ -e .deps/installed ]; then echo "reused $(cat .deps/installed)"; else echo fresh; fi
          mkdir -p .deps && cp lock.txt .deps/installed
`,
	})
	r := e.run(dir, "run")
	if r.code != 0 || !strings.Contains(r.stdout, "[s/install] fresh") {
		t.Fatalf("first run: exit %d\n%s", r.code, r.stdout)
	}
	r = e.run(dir, "run")
	if !strings.Contains(r.stdout, "restored dependency cache .deps (exact key)") || !strings.Contains(r.stdout, "[s/install] reused v1") {
		t.Errorf("second run did not restore the cache:\n%s", r.stdout)
	}
	os.WriteFile(filepath.Join(dir, "lock.txt"), []byte("v2\n"), 0o644)
	r = e.run(dir, "run")
	if !strings.Contains(r.stdout, "(newest entry, key differs)") || !strings.Contains(r.stdout, "[s/install] reused v1") {
		t.Errorf("a new key must fall back to the newest entry:\n%s", r.stdout)
	}
	r = e.run(dir, "run")
	if !strings.Contains(r.stdout, "(exact key)") || !strings.Contains(r.stdout, "[s/install] reused v2") {
		t.Errorf("the entry saved under the new key is used:\n%s", r.stdout)
	}
	if _, err := os.Stat(filepath.Join(dir, ".deps")); err == nil {
		t.Error("the dependency cache was written into the working copy")
	}
}

func TestCacheSizeEvictsAndAMissingBlobIsAMiss(t *testing.T) {
	e := newEnv(t)
	counts := t.TempDir()
	dir := project(t, map[string]string{"velocity.yml": `
stages:
  - name: s
    actions:
      - name: big
        outputs: [big.bin]
        run: echo x >> "` + counts + `/big"; head -c 300000 /dev/urandom > big.bin
`})
	if r := e.run(dir, "run", "--cache-size", "100KB"); r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var total int64
	filepath.Walk(filepath.Join(e.home, "blobs"), func(_ string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			total += info.Size()
		}
		return nil
	})
	if total > 100000 {
		t.Errorf("blob store holds %d bytes, over --cache-size 100KB", total)
	}
	r := e.run(dir, "run", "--cache-size", "100KB")
	if r.code != 0 {
		t.Fatalf("a run after eviction must still pass: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(counts, "big")); strings.Count(string(b), "\n") != 2 {
		t.Errorf("the evicted result must have been executed again")
	}
	if r := e.run(dir, "run", "--cache-size", "lots"); r.code != 2 {
		t.Errorf("bad --cache-size: exit %d", r.code)
	}
}
