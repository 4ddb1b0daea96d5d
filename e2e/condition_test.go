package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// skipped matches an action's line in the run summary with its reason.
func skipped(name, reason string) *regexp.Regexp {
	return regexp.MustCompile(`- ` + regexp.QuoteMeta(name) + ` +skipped: ` + regexp.QuoteMeta(reason))
}

func TestFalseConditionSkipsTheActionAndItsDependentsWithTheReason(t *testing.T) {
	e := newEnv(t)
	dir := project(t, map[string]string{"velocity.yml": `
stages:
  - name: ship
    actions:
      - { name: build, run: echo built }
      - { name: deploy, needs: [build], if: "branch == 'main'", run: echo deployed }
      - { name: smoke, needs: [deploy], run: echo smoked }
      - { name: preview, needs: [build], if: "startsWith(branch, 'feature/')", run: echo "preview of $VELOCITY_BRANCH" }
`})
	git(t, dir, "init", "-q")
	git(t, dir, "checkout", "-qb", "feature/login")
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-qm", "first")

	r := e.run(dir, "run")
	if r.code != 0 {
		t.Fatalf("a false condition failed the run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, re := range []*regexp.Regexp{
		skipped("deploy", "if: branch == 'main' was false"),
		skipped("smoke", `needs "deploy", which was skipped`),
	} {
		if !re.MatchString(r.stdout) {
			t.Errorf("summary lacks %s:\n%s", re, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "deployed") || strings.Contains(r.stdout, "smoked") {
		t.Errorf("a skipped action ran:\n%s", r.stdout)
	}
	if !strings.Contains(r.stdout, "[ship/preview] preview of feature/login") {
		t.Errorf("preview did not run:\n%s", r.stdout)
	}

	git(t, dir, "checkout", "-qb", "main")
	if r = e.run(dir, "run"); r.code != 0 || !strings.Contains(r.stdout, "[ship/smoke] smoked") {
		t.Errorf("on main, deploy and smoke should run: exit %d\n%s", r.code, r.stdout)
	}
}

func TestFailureConditionNotifiesOnlyWhenSomethingFailed(t *testing.T) {
	e := newEnv(t)
	dir := project(t, map[string]string{
		"velocity.yml": `
stages:
  - name: build
    actions:
      - { name: test, run: "sh test.sh", cache: false }
      - { name: package, needs: [test], run: echo packaged, cache: false }
      - { name: notify, needs: [package], if: failure(), run: echo "NOTIFY the team", cache: false }
`,
		"test.sh": "exit 0\n",
	})
	r := e.run(dir, "run")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout, "NOTIFY") || !skipped("notify", "if: failure() was false").MatchString(r.stdout) {
		t.Errorf("notify ran, or was not skipped with its reason, although nothing failed:\n%s", r.stdout)
	}

	os.WriteFile(filepath.Join(dir, "test.sh"), []byte("echo 'FAIL: TestX'; exit 1\n"), 0o644)
	r = e.run(dir, "run")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "[build/notify] NOTIFY the team") {
		t.Errorf("notify did not run after test failed:\n%s", r.stdout)
	}
	if !skipped("package", `needs "test", which failed`).MatchString(r.stdout) {
		t.Errorf("package was not skipped naming the failure:\n%s", r.stdout)
	}
}

func TestChangedRunsTheDocsActionOnlyWhenDocsChanged(t *testing.T) {
	e := newEnv(t)
	dir := project(t, map[string]string{
		"velocity.yml": `
stages:
  - name: build
    actions:
      - { name: test, run: echo tested, cache: false }
      - { name: docs, if: "changed('docs/**')", run: echo "DOCS built", cache: false }
`,
		"main.go":       "package main\n",
		"README.md":     "# hello\n",
		"docs/guide.md": "guide\n",
	})
	git(t, dir, "init", "-q")
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-qm", "first")

	// No earlier successful run: the changes are unknown, changed() is true.
	r := e.run(dir, "run")
	if r.code != 0 || !strings.Contains(r.stdout, "[build/docs] DOCS built") ||
		!strings.Contains(r.stdout, "changed() is true everywhere: no earlier successful run") {
		t.Fatalf("first run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	for _, step := range []struct {
		what, file string
		commit     bool
		docs       bool
	}{
		{"README changed, committed", "README.md", true, false},
		{"code changed, uncommitted", "main.go", false, false},
		{"docs changed, uncommitted", "docs/guide.md", false, true},
		{"docs changed, committed", "docs/guide.md", true, true},
		// The base is now the last run's commit, where docs were committed.
		{"code changed, committed", "main.go", true, false},
	} {
		f := filepath.Join(dir, step.file)
		os.WriteFile(f, []byte(readFile(t, f)+"more\n"), 0o644)
		if step.commit {
			git(t, dir, "commit", "-qam", step.what)
		}
		r := e.run(dir, "run")
		if r.code != 0 {
			t.Fatalf("%s: exit %d\n%s%s", step.what, r.code, r.stdout, r.stderr)
		}
		ran := strings.Contains(r.stdout, "[build/docs] DOCS built")
		if ran != step.docs {
			t.Errorf("%s: docs ran = %v, want %v\n%s", step.what, ran, step.docs, r.stdout)
		}
		if !step.docs && !skipped("docs", "if: changed('docs/**') was false").MatchString(r.stdout) {
			t.Errorf("%s: docs not skipped with its reason:\n%s", step.what, r.stdout)
		}
		if !strings.Contains(r.stdout, "changed() compares with run") {
			t.Errorf("%s: the console does not say what changed() compared with:\n%s", step.what, r.stdout)
		}
	}
}
