package e2e

import (
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" driver, to place the golden journal
)

// goldenHome copies testdata/golden-journal (a data directory written by
// an earlier velocity, see its README.md) into the test's data directory
// and puts the test's own directories where the journal holds
// placeholders for the paths of the machine that wrote it.
func goldenHome(t *testing.T, e *env) {
	t.Helper()
	src := filepath.Join("testdata", "golden-journal")
	for _, name := range []string{"velocity.db", "logs", "blobs"} {
		dst := filepath.Join(e.home, name)
		if name != "velocity.db" {
			if err := os.MkdirAll(dst, 0o700); err != nil {
				t.Fatal(err)
			}
			copyTree(t, filepath.Join(src, name), dst)
			continue
		}
		if err := os.WriteFile(dst, []byte(readFile(t, filepath.Join(src, name))), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(e.home, "velocity.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	project, workflows := t.TempDir(), t.TempDir()
	for _, q := range []string{
		`UPDATE runs SET dir = replace(dir, '@PROJECT@', ?1), lock = replace(lock, '@HOME@', ?2), workspace = replace(workspace, '@HOME@', ?2)`,
		`UPDATE attempts SET log = replace(log, '@HOME@', ?2)`,
		`UPDATE workflow_executions SET lock = replace(lock, '@HOME@', ?2),
			options = CAST(replace(CAST(options AS TEXT), '@WORKFLOWS@', ?3) AS BLOB)`,
	} {
		if _, err := db.Exec(q, project, e.home, workflows); err != nil {
			t.Fatalf("place the golden journal: %v", err)
		}
	}
}

// copyTree copies the files below from into to, which exists.
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o700)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// matches fails the test unless out matches every pattern.
func matches(t *testing.T, what string, r result, patterns ...string) {
	t.Helper()
	if r.code != 0 {
		t.Errorf("%s: exit %d\n%s%s", what, r.code, r.stdout, r.stderr)
		return
	}
	for _, p := range patterns {
		if !regexp.MustCompile(p).MatchString(r.stdout) {
			t.Errorf("%s does not match %q:\n%s%s", what, p, r.stdout, r.stderr)
		}
	}
}

// A data directory written before persisted documents had explicit field
// names and format versions reads the same: runs, their graphs and logs.
func TestGoldenJournalRuns(t *testing.T) {
	e := newEnv(t)
	goldenHome(t, e)
	dir := t.TempDir()

	matches(t, "velocity runs", e.run(dir, "runs"),
		`(?m)^4\s+failed\s+golden\s.*\sall$`,
		`(?m)^3\s+succeeded\s+golden\s.*\sbuild$`,
		`(?m)^2\s+succeeded\s+golden\s.*\sall$`,
		`(?m)^1\s+succeeded\s+golden\s`)
	matches(t, "velocity show 3", e.run(dir, "show", "3"),
		`run 3 of golden succeeded`, `partial run: build`,
		`↺ package .*cached: result of run 2`, `↺ test .*needs package; cached: result of run 2`)
	matches(t, "velocity show 4", e.run(dir, "show", "4"),
		`run 4 of golden failed`, `✗ test .*failed: exit code 3`, `- deploy .*skipped: stage "build" failed`)
	matches(t, "velocity show 1", e.run(dir, "show", "1"),
		`✓ deploy`, `(?m)^  production$`)
	matches(t, "velocity logs 4", e.run(dir, "logs", "4"),
		`\[build/package\] packaged broken`, `\[build/test\] version.txt is broken`)
	matches(t, "velocity logs 1", e.run(dir, "logs", "1"),
		`\[build/package\] packaged one`, `\[staging/deploy\] .*deploying release r1`)
}

// The golden journal's deployments read the same, and a server brings
// their live releases back from it and rolls one back to a release
// deployed by the earlier velocity.
func TestGoldenJournalReleasesAndRollback(t *testing.T) {
	requireTool(t, "python3")
	e := newEnv(t)
	goldenHome(t, e)
	dir := t.TempDir()

	matches(t, "velocity releases production api", e.run(dir, "releases", "production", "api"),
		`(?m)^\*\s+r2\s+2\s+live`, `(?m)^\s+r1\s+1\s+superseded`)
	matches(t, "velocity releases staging api", e.run(dir, "releases", "staging", "api"),
		`(?m)^\*\s+r1\s+1\s+live\s.*rollback from r2`, `(?m)^\s+r2\s+2\s+rolled-back`, `(?m)^\s+r1\s+1\s+superseded`)

	srv := startServer(t, e)
	srv.waitFor(t, regexp.MustCompile(`production/api: release r2 is back`), 30*time.Second)
	srv.waitFor(t, regexp.MustCompile(`staging/api: release r1 is back`), 30*time.Second)
	// The production environment's own host, from the journaled definition.
	const host = "api.example.localhost"
	if code, body := get(t, srv.addr, host, "/"); code != 200 || body != "release two\n" {
		t.Fatalf("production/api answered %d %q, want release two\nserver:\n%s", code, body, srv.out)
	}
	if code, body := get(t, srv.addr, "api.staging.localhost", "/"); code != 200 || body != "release one\n" {
		t.Fatalf("staging/api answered %d %q, want release one\nserver:\n%s", code, body, srv.out)
	}

	r := e.run(dir, "rollback", "production", "api")
	matches(t, "velocity rollback production api", r, `release r1 serves again`)
	if code, body := get(t, srv.addr, host, "/"); code != 200 || body != "release one\n" {
		t.Fatalf("after the rollback production/api answered %d %q, want release one\nserver:\n%s", code, body, srv.out)
	}
	matches(t, "velocity releases production api", e.run(dir, "releases", "production", "api"),
		`(?m)^\*\s+r1\s+1\s+live\s.*rollback from r2`, `(?m)^\s+r2\s+2\s+rolled-back`)
}

// The golden journal's workflow executions, their options and history
// events read the same.
func TestGoldenJournalWorkflows(t *testing.T) {
	e := newEnv(t)
	goldenHome(t, e)
	dir := t.TempDir()

	matches(t, "velocity workflow list", e.run(dir, "workflow", "list"),
		`(?m)^4\s+SUCCEEDED\s+child\s`, `(?m)^3\s+SUCCEEDED\s+parent\s+parent-1\s`,
		`(?m)^2\s+FAILED\s+broken\s+broken-1\s`, `(?m)^1\s+SUCCEEDED\s+shapes\s+shapes-1\s`)
	matches(t, "velocity workflow describe 3", e.run(dir, "workflow", "describe", "3"),
		`execution:\s+arn:aws:states:us-east-1:123456789012:execution:parent:parent-1`,
		`status:\s+SUCCEEDED`, `output:\s+\{"hello":"golden"\}`)
	matches(t, "velocity workflow describe 2", e.run(dir, "workflow", "describe", "2"),
		`status:\s+FAILED`, `error:\s+Golden.Broken`, `cause:\s+it fails on purpose`)
	matches(t, "velocity workflow history 1", e.run(dir, "workflow", "history", "1"),
		`(?m)^1\s+\S+\s+ExecutionStarted`, `MapStateEntered\s+Each`, `MapIterationSucceeded`,
		`ChoiceStateEntered\s+Big\?`, `TaskScheduled`, `TaskSucceeded`, `ExecutionSucceeded`)
	matches(t, "velocity workflow history 3", e.run(dir, "workflow", "history", "3"),
		`TaskScheduled`, `TaskSucceeded`, `ExecutionSucceeded`)
	matches(t, "velocity workflow history 2", e.run(dir, "workflow", "history", "2"),
		`FailStateEntered\s+Fail`, `ExecutionFailed`)

	// A redrive replays the old history (options and events of the old
	// format) and continues it in the new one.
	if r := e.run(dir, "workflow", "redrive", "2"); r.code != 1 || !strings.Contains(r.stderr, "FAILED: Golden.Broken: it fails on purpose") {
		t.Errorf("velocity workflow redrive 2: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	matches(t, "velocity workflow history 2 after the redrive", e.run(dir, "workflow", "history", "2"),
		`(?m)^3\s+\S+\s+ExecutionFailed`, `(?m)^4\s+\S+\s+ExecutionRedriven`, `(?m)^6\s+\S+\s+ExecutionFailed\s+Golden.Broken`)
	matches(t, "velocity workflow describe 2 after the redrive", e.run(dir, "workflow", "describe", "2"),
		`redrives:\s+1`, `status:\s+FAILED`)

	// The AWS form of a history keeps the details the interpreter wrote.
	r := e.run(dir, "workflow", "history", "4", "--json")
	var h struct {
		Events []map[string]any `json:"events"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &h); err != nil || len(h.Events) != 4 {
		t.Fatalf("velocity workflow history 4 --json: %v\n%s%s", err, r.stdout, r.stderr)
	}
	exited, _ := h.Events[2]["stateExitedEventDetails"].(map[string]any)
	if exited["name"] != "Hi" || !strings.Contains(exited["output"].(string), `"golden"`) {
		t.Errorf("the child's PassStateExited details: %v", h.Events[2])
	}
}
