package e2e

import (
	"os"
	"os/exec"
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
	r := e.run(example, "run", "--approve", "--no-serve", "--proxy-addr", "127.0.0.1:0")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"build/test succeeded", "build/vet succeeded", "build/package succeeded", "smoke test passed",
		"staging serves the new release", "production/deploy succeeded"} {
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

// TestExampleCacheFollowsInputs: on a copy of the example, an unchanged
// re-run executes nothing, a README change executes nothing, and a Go
// change executes exactly the actions whose inputs include Go files.
func TestExampleCacheFollowsInputs(t *testing.T) {
	requireTool(t, "go")
	e := newEnv(t)
	dir := t.TempDir()
	if out, err := exec.Command("cp", "-r", "../examples/hello/.", dir).CombinedOutput(); err != nil {
		t.Fatalf("copy: %v %s", err, out)
	}
	os.RemoveAll(filepath.Join(dir, "dist"))
	git(t, dir, "init", "-q")
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-qm", "c")
	executed := func(r result) []string {
		var names []string
		for _, a := range []string{"test", "vet", "package", "smoke"} {
			if strings.Contains(r.stdout, "==> build/"+a+" succeeded") {
				names = append(names, a)
			}
		}
		return names
	}
	step := func(what string, want string) {
		t.Helper()
		r := e.run(dir, "run", "--approve", "--no-serve", "--proxy-addr", "127.0.0.1:0")
		if r.code != 0 {
			t.Fatalf("%s: exit %d\n%s%s", what, r.code, r.stdout, r.stderr)
		}
		if got := strings.Join(executed(r), " "); got != want {
			t.Errorf("%s: executed [%s], want [%s]\n%s", what, got, want, r.stdout)
		}
	}
	step("first run", "test vet package smoke")
	step("nothing changed", "")
	os.WriteFile(filepath.Join(dir, "README.md"), []byte("changed\n"), 0o644)
	step("README changed", "")
	main := filepath.Join(dir, "cmd/hello/main.go")
	src, _ := os.ReadFile(main)
	os.WriteFile(main, append(src, []byte("\n// a comment changes the source, not the program\n")...), 0o644)
	r := e.run(dir, "run", "--approve", "--no-serve", "--proxy-addr", "127.0.0.1:0")
	got := strings.Join(executed(r), " ")
	if r.code != 0 || !strings.HasPrefix(got, "test vet package") {
		t.Errorf("Go file changed: executed [%s], want test, vet and package\n%s", got, r.stdout)
	}
}
