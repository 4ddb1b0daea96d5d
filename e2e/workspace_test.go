package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const destructive = `
stages:
  - name: build
    actions:
      - name: look
        run: |
          cat version.txt
          test ! -e ignored.log
          cat untracked.txt
          echo "branch=$VELOCITY_BRANCH commit=$VELOCITY_COMMIT"
      - name: vandal
        needs: [look]
        run: rm -rf ./* && echo changed > version.txt
`

func TestWorkingCopyIsNeverModified(t *testing.T) {
	e := newEnv(t)
	dir := project(t, map[string]string{
		"velocity.yml": destructive,
		"version.txt":  "committed\n",
		".gitignore":   "*.log\n",
	})
	git(t, dir, "init", "-q")
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-qm", "first")
	first := git(t, dir, "rev-parse", "HEAD")
	os.WriteFile(filepath.Join(dir, "version.txt"), []byte("uncommitted\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "untracked.txt"), []byte("untracked\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "ignored.log"), []byte("ignored\n"), 0o644)
	before := git(t, dir, "status", "--porcelain")

	r := e.run(dir, "run")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"[build/look] uncommitted", "[build/look] untracked", "branch=main commit=" + first, "uncommitted changes"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "version.txt")); string(b) != "uncommitted\n" {
		t.Errorf("the working copy was modified: version.txt = %q", b)
	}
	if after := git(t, dir, "status", "--porcelain"); after != before {
		t.Errorf("git status changed:\n%s\nwas\n%s", after, before)
	}

	// --commit runs exactly that commit, not the working tree.
	os.WriteFile(filepath.Join(dir, "version.txt"), []byte("second\n"), 0o644)
	git(t, dir, "commit", "-qam", "second")
	r = e.run(dir, "run", "--commit", first)
	if r.code == 0 {
		t.Fatalf("untracked.txt is not in the first commit, so look must fail:\n%s", r.stdout)
	}
	if !strings.Contains(r.stdout, "[build/look] committed") {
		t.Errorf("--commit did not run the first commit's files:\n%s", r.stdout)
	}
	r = e.run(dir, "run", "--commit", "no-such-rev")
	if r.code != 2 || !strings.Contains(r.stderr, "no-such-rev") {
		t.Errorf("unknown rev: exit %d, stderr %s", r.code, r.stderr)
	}
}

func TestNonGitDirectoryRunsAsItIsWithANote(t *testing.T) {
	e := newEnv(t)
	dir := project(t, map[string]string{"velocity.yml": `
stages:
  - name: s
    actions:
      - name: a
        run: test -z "$VELOCITY_COMMIT" && cat data.txt
`, "data.txt": "plain dir\n"})
	r := e.run(dir, "run")
	if r.code != 0 || !strings.Contains(r.stdout, "not a git repository") || !strings.Contains(r.stdout, "plain dir") {
		t.Errorf("exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestUntrustedBranchNameOnlyReachesCommandsAsAVariable(t *testing.T) {
	e := newEnv(t)
	dir := project(t, map[string]string{"velocity.yml": `
stages:
  - name: s
    actions:
      - name: a
        run: printf 'branch:%s\n' "$VELOCITY_BRANCH"
`})
	git(t, dir, "init", "-q")
	branch := "x$(touch${IFS}pwned)`id`"
	git(t, dir, "checkout", "-q", "-b", branch)
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-qm", "c")
	r := e.run(dir, "run", "--keep-workspace")
	if r.code != 0 || !strings.Contains(r.stdout, "branch:"+branch+"\n") {
		t.Errorf("exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	matches, _ := filepath.Glob(filepath.Join(e.home, "workspaces", "*", "pwned"))
	if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil || len(matches) > 0 {
		t.Error("the branch name was executed")
	}
}

func TestLogsFollowUntilTheRunEnds(t *testing.T) {
	e := newEnv(t)
	dir := project(t, map[string]string{"velocity.yml": `
stages:
  - name: s
    actions:
      - name: ticker
        run: for i in 1 2 3 4 5; do echo "tick $i"; sleep 0.2; done
      - name: after
        needs: [ticker]
        retry: { attempts: 2, backoff: 10ms }
        run: |
          if [ ! -e /tmp/velocity-e2e-never ]; then echo "try"; fi
          exit 1
`})
	cmd, _ := startRun(t, e, dir)
	defer cmd.Wait()
	// Wait for the run to exist, then follow it. On a slow machine it may
	// already be over; -f then prints everything and returns, which the
	// checks below cover just the same.
	deadline := time.Now().Add(20 * time.Second)
	for runs := e.run(dir, "runs").stdout; !strings.Contains(runs, "running") && !strings.Contains(runs, "failed"); runs = e.run(dir, "runs").stdout {
		if time.Now().After(deadline) {
			t.Fatal("the run never showed up in velocity runs")
		}
		time.Sleep(20 * time.Millisecond)
	}
	r := e.run(dir, "logs", "last", "-f")
	for _, want := range []string{"[s/ticker] tick 1\n", "[s/ticker] tick 5\n", "[s/after] try\n", "[s/after attempt 2] try\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("logs -f lacks %q:\n%s", want, r.stdout)
		}
	}
	one := e.run(dir, "logs", "last", "after")
	if !strings.Contains(one.stdout, "--- attempt 1 ---\ntry\n--- attempt 1 failed: exit code 1 ---\n--- attempt 2 ---\ntry\n") {
		t.Errorf("logs of one action:\n%s", one.stdout)
	}
	if r := e.run(dir, "logs", "last", "nope"); r.code != 2 || !strings.Contains(r.stderr, "s/ticker") {
		t.Errorf("unknown action: exit %d, %s", r.code, r.stderr)
	}
}
