package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// rawLogLine matches a line of slog's text handler, which must never reach
// a user's console.
var rawLogLine = regexp.MustCompile(`(?m)^time=.* level=|level=(DEBUG|INFO|WARN|ERROR) `)

var ansiCode = regexp.MustCompile("\x1b\\[[0-9;]*[A-Za-z]")

// stripANSI removes the live view's cursor movements and colours.
func stripANSI(s string) string { return ansiCode.ReplaceAllString(s, "") }

// failureSection returns what the run printed after the summary's header
// of a failed action.
func failureSection(t *testing.T, stdout, action string) string {
	t.Helper()
	i := strings.LastIndex(stdout, action+" failed")
	if i < 0 {
		t.Fatalf("no failure summary for %s:\n%s", action, stdout)
	}
	return stdout[i:]
}

func TestFailureSummaryShowsTheEndOfTheFailedActionsLog(t *testing.T) {
	e := newEnv(t)
	const value = "tail-S3cret-99"
	set := e.command(t.TempDir(), "secret", "set", "TOKEN")
	set.Stdin = strings.NewReader(value + "\n")
	if out, err := set.CombinedOutput(); err != nil {
		t.Fatalf("secret set: %v\n%s", err, out)
	}
	// test fails on its 240th line, while lint prints 160 lines of its own
	// in between: 400 lines on the console.
	dir := project(t, map[string]string{"velocity.yml": `
stages:
  - name: check
    actions:
      - name: lint
        run: |
          for i in $(seq 1 160); do echo "lint line $i"; [ $((i % 16)) = 0 ] && sleep 0.02; done; true
      - name: test
        secrets: [TOKEN]
        run: |
          for i in $(seq 1 238); do echo "test line $i"; [ $((i % 24)) = 0 ] && sleep 0.02; done
          echo "test line 239 token=$TOKEN"
          echo "test line 240 FAIL: want 2, got 3"
          exit 1
`})
	for i, mode := range []string{"plain", "live"} {
		t.Run(mode, func(t *testing.T) {
			run := fmt.Sprint(i + 1)
			r := e.run(dir, "run", "--progress", mode)
			r.stdout = stripANSI(r.stdout)
			if r.code != 1 {
				t.Fatalf("exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
			}
			if rawLogLine.MatchString(r.stdout + r.stderr) {
				t.Errorf("raw log lines on the console:\n%s%s", r.stdout, r.stderr)
			}
			if strings.Contains(r.stdout+r.stderr, value) {
				t.Errorf("the secret shows:\n%s", r.stdout)
			}
			sum := failureSection(t, r.stdout, "check/test")
			var missing []int
			for n := 221; n <= 238; n++ {
				if !regexp.MustCompile(fmt.Sprintf(`(?m)^  test line %d$`, n)).MatchString(sum) {
					missing = append(missing, n)
				}
			}
			if len(missing) > 0 {
				t.Errorf("summary lacks lines %v of the failed log:\n%s", missing, sum)
			}
			for _, want := range []string{"  test line 239 token=***\n", "  test line 240 FAIL: want 2, got 3\n"} {
				if !strings.Contains(sum, want) {
					t.Errorf("summary lacks %q:\n%s", want, sum)
				}
			}
			if strings.Contains(sum, "test line 220\n") || strings.Contains(sum, "lint line") {
				t.Errorf("summary shows more than the failed action's last 20 lines:\n%s", sum)
			}
			logPath := filepath.Join(e.home, "logs", run, "check", "test.1.log")
			if !strings.Contains(sum, logPath) {
				t.Errorf("summary does not name the full log %s:\n%s", logPath, sum)
			}
			cmd := "velocity logs " + run + " check/test"
			if !strings.Contains(sum, cmd) {
				t.Errorf("summary does not say %q:\n%s", cmd, sum)
			}
			if _, err := os.Stat(logPath); err != nil {
				t.Errorf("the named log: %v", err)
			}
			logs := e.run(dir, "logs", run, "check/test")
			if logs.code != 0 || !strings.Contains(logs.stdout, "test line 1\n") || !strings.Contains(logs.stdout, "FAIL: want 2") {
				t.Errorf("%s: exit %d\n%s%s", cmd, logs.code, logs.stdout, logs.stderr)
			}
		})
	}

	t.Run("tail-lines", func(t *testing.T) {
		r := e.run(dir, "run", "--tail-lines", "3")
		sum := failureSection(t, r.stdout, "check/test")
		if !strings.Contains(sum, "  test line 238\n") || strings.Contains(sum, "test line 237\n") {
			t.Errorf("--tail-lines 3 must show exactly the last 3 lines:\n%s", sum)
		}
		r = e.run(dir, "run", "--tail-lines", "0")
		sum = failureSection(t, r.stdout, "check/test")
		if strings.Contains(sum, "  test line") {
			t.Errorf("--tail-lines 0 must show no lines:\n%s", sum)
		}
		if !strings.Contains(sum, "check/test.1.log") {
			t.Errorf("--tail-lines 0 still names the full log:\n%s", sum)
		}
	})
}

func TestRunWarningsAreConsoleLinesNotLogRecords(t *testing.T) {
	e := newEnv(t)
	dir := project(t, map[string]string{"velocity.yml": `
stages:
  - name: s
    actions:
      - name: a
        outputs: [out.txt]
        run: echo original > out.txt
`})
	if r := e.run(dir, "run"); r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for i, mode := range []string{"plain", "live"} {
		// Every blob tampered with: the cached result is unusable, which
		// the engine warns about.
		blobs, _ := filepath.Glob(filepath.Join(e.home, "blobs", "sha256", "*", "*"))
		if len(blobs) == 0 {
			t.Fatalf("no blobs under %s", e.home)
		}
		for _, b := range blobs {
			os.Chmod(b, 0o644)
			os.WriteFile(b, []byte("tampered"), 0o644)
		}
		r := e.run(dir, "run", "--progress", mode)
		if r.code != 0 {
			t.Fatalf("%s run %d: exit %d\n%s%s", mode, i+2, r.code, r.stdout, r.stderr)
		}
		if rawLogLine.MatchString(r.stdout + r.stderr) {
			t.Errorf("%s: raw log lines on the console:\n%s%s", mode, r.stdout, r.stderr)
		}
		if !regexp.MustCompile(`(?m)^\[s/a\] warning: cached result unusable`).MatchString(stripANSI(r.stdout)) {
			t.Errorf("%s: the warning is not a console line of s/a:\n%s", mode, r.stdout)
		}
	}
}

func TestCriticalPathIsTheLongestChainOfNeeds(t *testing.T) {
	e := newEnv(t)
	// package does not need vet; with -j 1 it waits for vet's slot.
	dir := project(t, map[string]string{"velocity.yml": `
stages:
  - name: build
    actions:
      - name: vet
        run: sleep 0.5
      - name: package
        run: sleep 1
  - name: ship
    actions:
      - name: publish
        run: sleep 0.1
`})
	r := e.run(dir, "run", "-j", "1")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	show := e.run(dir, "show", "last")
	r.stdout, show.stdout = stripANSI(r.stdout), stripANSI(show.stdout)
	critical := regexp.MustCompile(`(?m)^  critical path.*$`)
	for what, out := range map[string]string{"run": r.stdout, "show": show.stdout} {
		line := critical.FindString(out)
		if line == "" {
			t.Errorf("%s shows no critical path:\n%s", what, out)
			continue
		}
		if strings.Contains(line, "build/vet") {
			t.Errorf("%s: the critical path goes through vet, which package does not need: %s", what, line)
		}
		if !regexp.MustCompile(`build/package [0-9.]+m?s \(waited [0-9.]+m?s for a CPU\) → ship/publish`).MatchString(line) {
			t.Errorf("%s: critical path %q, want build/package (with its wait for a CPU) → ship/publish", what, line)
		}
	}
}

// An action that prints nothing has an empty log: 'velocity logs' shows
// nothing, and a failure summary says so, whether or not a file was
// written for it.
func TestSilentActionsHaveEmptyLogs(t *testing.T) {
	e := newEnv(t)
	dir := project(t, map[string]string{"velocity.yml": `
stages:
  - name: s
    actions:
      - name: quiet
        run: "true"
      - name: silent-failure
        needs: [quiet]
        run: exit 3
`})
	r := e.run(dir, "run", "--progress", "plain")
	if r.code == 0 {
		t.Fatalf("the run succeeded:\n%s", r.stdout)
	}
	if !strings.Contains(r.stdout, "s/silent-failure failed: exit code 3; its log is empty") {
		t.Errorf("the summary does not say the failed action's log is empty:\n%s", r.stdout)
	}
	for _, action := range []string{"s/quiet", "s/silent-failure"} {
		logs := e.run(dir, "logs", "1", action)
		if logs.code != 0 || logs.stdout != "" {
			t.Errorf("velocity logs 1 %s: exit %d, output %q, stderr %q", action, logs.code, logs.stdout, logs.stderr)
		}
	}
}
