package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

const matrixPipeline = `
stages:
  - name: build
    actions:
      - name: test
        run: echo "cell go=$MATRIX_GO os=$MATRIX_OS race=$MATRIX_RACE"
        inputs: [go.mod]
        matrix:
          go: ["1.25", "1.26"]
          os: [linux, darwin]
          exclude:
            - {go: "1.25", os: darwin}
          include:
            - {go: "1.26", os: linux, race: "on"}
            - {go: "1.27", os: linux}
      - name: package
        needs: [test]
        run: echo packaged
        inputs: []
`

func TestMatrixRunsEachCellWithItsValuesAndCachesItAlone(t *testing.T) {
	e := newEnv(t)
	dir := project(t, map[string]string{"velocity.yml": matrixPipeline, "go.mod": "module m\n"})
	r := e.run(dir, "run")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	cells := map[string]string{
		"test@go=1.25,os=linux":         "cell go=1.25 os=linux race=",
		"test@go=1.26,os=linux,race=on": "cell go=1.26 os=linux race=on",
		"test@go=1.26,os=darwin":        "cell go=1.26 os=darwin race=",
		"test@go=1.27,os=linux":         "cell go=1.27 os=linux race=",
	}
	for name, line := range cells {
		if want := "[build/" + name + "] " + line + "\n"; !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if n := strings.Count(r.stdout, "] cell go="); n != 4 {
		t.Errorf("%d cells ran, want 4 (2×2, one excluded, one included):\n%s", n, r.stdout)
	}
	// package needs every cell: it starts after the last one.
	last := 0
	for name := range cells {
		last = max(last, strings.Index(r.stdout, "==> build/"+name+" succeeded"))
	}
	if i := strings.Index(r.stdout, "==> build/package started"); i < last {
		t.Errorf("package started before every cell had succeeded:\n%s", r.stdout)
	}

	// Unchanged: every cell comes from its own cache entry.
	r = e.run(dir, "run")
	if r.code != 0 {
		t.Fatalf("rerun: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for name := range cells {
		if !regexp.MustCompile(`↺ ` + regexp.QuoteMeta(name) + ` .*cached: result of run 1`).MatchString(r.stdout) {
			t.Errorf("rerun: %s was not taken from the cache:\n%s", name, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "] cell go=") {
		t.Errorf("rerun executed a cell:\n%s", r.stdout)
	}

	// A change to the inputs misses every cell's entry, and each cell
	// stores a new one: the next run takes all four from run 3.
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module m\n\ngo 1.26\n"), 0o644)
	if r = e.run(dir, "run"); strings.Count(r.stdout, "] cell go=") != 4 {
		t.Errorf("after go.mod changed, %d cells ran, want 4:\n%s", strings.Count(r.stdout, "] cell go="), r.stdout)
	}
	r = e.run(dir, "run")
	if n := len(regexp.MustCompile(`↺ test@\S+ .*cached: result of run 3`).FindAllString(r.stdout, -1)); n != 4 {
		t.Errorf("%d cells from run 3, want all 4:\n%s", n, r.stdout)
	}
}

func TestMatrixFailFastCancelsTheOtherCells(t *testing.T) {
	e := newEnv(t)
	dir := project(t, map[string]string{"velocity.yml": `
stages:
  - name: build
    actions:
      - name: test
        run: 'if [ "$MATRIX_N" = 1 ]; then sleep 0.5; echo broken; exit 1; fi; sleep 60'
        cache: false
        matrix: {n: ["1", "2", "3"]}
`})
	start := time.Now()
	r := e.run(dir, "run", "--jobs", "2")
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("the run took %v: the running cell was not stopped", d)
	}
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"test@n=2", "test@n=3", "cancelled: test@n=1 failed (fail_fast)",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "velocity: stopping") || strings.Contains(r.stdout, "run 1 of") && strings.Contains(r.stdout, "cancelled in") {
		t.Errorf("the run was reported cancelled, not failed:\n%s", r.stdout)
	}
}

func TestMatrixWithoutFailFastLetsTheOtherCellsFinish(t *testing.T) {
	e := newEnv(t)
	dir := project(t, map[string]string{"velocity.yml": `
stages:
  - name: build
    actions:
      - name: test
        run: 'sleep 0.$MATRIX_N; echo "cell $MATRIX_N"; test "$MATRIX_N" != 1'
        cache: false
        matrix: {n: ["1", "2", "3"], fail_fast: false, max_parallel: 1}
`})
	r := e.run(dir, "run")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"[build/test@n=2] cell 2", "[build/test@n=3] cell 3", "==> build/test@n=3 succeeded"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
}
