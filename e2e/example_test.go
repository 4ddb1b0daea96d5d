package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExampleHello is the README's first command: the example's whole
// assembly line on embedded defaults.
func TestExampleHello(t *testing.T) {
	requireTool(t, "go")
	e := newEnv(t)
	example, err := filepath.Abs("../examples/hello")
	if err != nil {
		t.Fatal(err)
	}
	r := e.run(example, "run")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"build/test succeeded", "build/vet succeeded", "build/package succeeded", "smoke test passed"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	show := e.run(example, "show", "last")
	if !strings.Contains(show.stdout, "needs package") || !strings.Contains(show.stdout, "succeeded") {
		t.Errorf("show:\n%s", show.stdout)
	}
	if _, err := os.Stat(filepath.Join(example, "dist")); err == nil {
		t.Error("the run wrote dist/ into the source tree")
	}
}

// TestInitThenRun: on a fresh Go project, init writes a definition that
// validates and passes.
func TestInitThenRun(t *testing.T) {
	requireTool(t, "go")
	e := newEnv(t)
	dir := project(t, map[string]string{
		"go.mod":       "module example.com/fresh\n\ngo 1.22\n",
		"main.go":      "package main\n\nfunc main() { println(add(1, 2)) }\n\nfunc add(a, b int) int { return a + b }\n",
		"main_test.go": "package main\n\nimport \"testing\"\n\nfunc TestAdd(t *testing.T) {\n\tif add(1, 2) != 3 {\n\t\tt.Fatal()\n\t}\n}\n",
	})
	git(t, dir, "init", "-q")
	r := e.run(dir, "init")
	if r.code != 0 || !strings.Contains(r.stdout, "velocity.yml") {
		t.Fatalf("init: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := e.run(dir, "init"); r.code != 2 || !strings.Contains(r.stderr, "--force") {
		t.Errorf("second init: exit %d, %s", r.code, r.stderr)
	}
	if r := e.run(dir, "validate"); r.code != 0 {
		t.Fatalf("validate: exit %d\n%s", r.code, r.stderr)
	}
	if r := e.run(dir, "run"); r.code != 0 {
		t.Fatalf("run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestVersion(t *testing.T) {
	e := newEnv(t)
	r := e.run(t.TempDir(), "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "velocity ") {
		t.Errorf("version: exit %d, %q", r.code, r.stdout)
	}
}
