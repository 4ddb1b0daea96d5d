package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const explainPipeline = `
name: explained
env_passthrough: [EXPLAIN_TOKEN]
env: { MODE: "MODE_VALUE" }
stages:
  - name: build
    actions:
      - name: compile
        inputs: ["src/**"]
        outputs: [dist/app.txt]
        run: |
          mkdir -p dist && cat src/*.txt > dist/app.txt
      - name: test
        needs: [compile]
        inputs: ["test/**"]
        secrets: [EXPLAIN_SECRET]
        run: |
          SCRIPT_LINE
          grep -q hello dist/app.txt && cat test/*.txt
      - name: lint
        cache: false
        run: echo lint
`

// TestExplainNamesWhatChanged: after each kind of change, the console of
// the run says why the action missed, and velocity explain names the
// file, variable, script or upstream output, without a host variable's
// value; an unchanged action is a hit from the run it came from.
func TestExplainNamesWhatChanged(t *testing.T) {
	e := newEnv(t)
	write := func(dir, name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pipeline := func(mode, line string) string {
		return strings.NewReplacer("MODE_VALUE", mode, "SCRIPT_LINE", line).Replace(explainPipeline)
	}
	dir := project(t, map[string]string{
		"velocity.yml": pipeline("fast", "echo testing"),
		"src/a.txt":    "hello\n",
		"src/b.txt":    "world\n",
		"test/t1.txt":  "one\n",
		"test/t2.txt":  "two\n",
	})
	const token = "tok-3f9c1b7e5a"
	setSecret := func(value string) {
		t.Helper()
		set := e.command(dir, "secret", "set", "EXPLAIN_SECRET")
		set.Stdin = strings.NewReader(value + "\n")
		if out, err := set.CombinedOutput(); err != nil {
			t.Fatalf("secret set: %v\n%s", err, out)
		}
	}
	setSecret("first-secret-value")
	run := func(token string) result {
		t.Helper()
		cmd := e.command(dir, "run")
		cmd.Env = append(cmd.Env, "EXPLAIN_TOKEN="+token)
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		cmd.Run()
		r := result{code: cmd.ProcessState.ExitCode(), stdout: out.String(), stderr: errb.String()}
		if r.code != 0 {
			t.Fatalf("run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		return r
	}
	explain := func(action string) string {
		t.Helper()
		r := e.run(dir, "explain", "last", action)
		if r.code != 0 {
			t.Fatalf("explain last %s: exit %d\n%s%s", action, r.code, r.stdout, r.stderr)
		}
		return r.stdout
	}
	expect := func(what, out string, want ...string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: no %q in:\n%s", what, w, out)
			}
		}
	}

	if r := run(token); strings.Contains(r.stdout, "cache miss") {
		t.Errorf("first run: a miss without an earlier result is noise on the console:\n%s", r.stdout)
	}
	expect("first run", explain("build/test"), "run 1 build/test: cache miss: no earlier result")
	expect("cache: false", explain("lint"), "run 1 build/lint: executed without the result cache (the action says cache: false)")

	// Unchanged: a hit.
	run(token)
	expect("unchanged", explain("test"), "run 2 build/test: cache hit from run 1")

	// One input file.
	write(dir, "test/t2.txt", "two!\n")
	r := run(token)
	expect("input file: console", r.stdout, "[build/test] cache miss: 1 input file changed (test/t2.txt)")
	out := explain("build/test")
	expect("input file", out, "changed since run 2", "input test/t2.txt changed")
	if strings.Contains(out, "t1.txt") {
		t.Errorf("input file: an unchanged file is named:\n%s", out)
	}

	// A host variable: its name, never its value.
	r = run("tok-other-value-77")
	expect("host env: console", r.stdout, "[build/test] cache miss: env EXPLAIN_TOKEN changed")
	out = explain("build/test")
	expect("host env", out, "env EXPLAIN_TOKEN changed")
	for _, secret := range []string{token, "tok-other-value-77"} {
		if strings.Contains(out, secret) || strings.Contains(r.stdout, secret) {
			t.Errorf("host env: the value %q is shown:\n%s\n%s", secret, out, r.stdout)
		}
	}
	// A variable of velocity.yml: old → new.
	write(dir, "velocity.yml", pipeline("thorough", "echo testing"))
	run("tok-other-value-77")
	expect("definition env", explain("build/test"), `env MODE changed: "fast" → "thorough"`)

	// The script.
	write(dir, "velocity.yml", pipeline("thorough", "echo testing harder"))
	r = run("tok-other-value-77")
	expect("script: console", r.stdout, "[build/test] cache miss: script changed")
	expect("script", explain("build/test"), "script changed:", "- echo testing", "+ echo testing harder")

	// An upstream output: compile executes again and test names it.
	write(dir, "src/b.txt", "there\n")
	r = run("tok-other-value-77")
	expect("upstream: console", r.stdout,
		"[build/compile] cache miss: 1 input file changed (src/b.txt)",
		"[build/test] cache miss: output of build/compile changed (dist/app.txt changed)")
	expect("upstream", explain("build/test"), "output of upstream action build/compile changed: dist/app.txt changed")

	// A secret: its name only.
	setSecret("second-secret-value")
	r = run("tok-other-value-77")
	expect("secret: console", r.stdout, "[build/test] cache miss: secret EXPLAIN_SECRET changed")
	out = explain("build/test")
	expect("secret", out, "secret EXPLAIN_SECRET changed")
	// Neither the values nor anything else of them reaches the journal.
	db, err := os.ReadFile(filepath.Join(e.home, "velocity.db"))
	if err != nil {
		t.Fatal(err)
	}
	wal, _ := os.ReadFile(filepath.Join(e.home, "velocity.db-wal"))
	for _, v := range []string{"first-secret-value", "second-secret-value", token, "tok-other-value-77"} {
		if strings.Contains(out, v) || strings.Contains(r.stdout, v) || bytes.Contains(db, []byte(v)) || bytes.Contains(wal, []byte(v)) {
			t.Errorf("the value %q is shown or journaled", v)
		}
	}

	// --no-cache says so.
	e.run(dir, "run", "--no-cache")
	expect("--no-cache", explain("build/test"), "--no-cache")
	// The run after it is a hit again, from the last run that cached.
	run("tok-other-value-77")
	expect("after --no-cache", explain("build/compile"), "cache hit from run")
}
