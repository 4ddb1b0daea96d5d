package e2e

import (
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/executor/executortest"
)

// hangingProject has an action that starts a grandchild in the background
// and blocks, writing both pids to PIDS (outside the run's workspace).
func hangingProject(t *testing.T, pids string) string {
	return project(t, map[string]string{"velocity.yml": `
stages:
  - name: build
    actions:
      - name: hang
        env: { PIDS: "` + pids + `" }
        run: |
          sleep 100 &
          echo $! > "$PIDS/bg.pid"
          echo $$ > "$PIDS/sh.pid"
          sleep 100
      - name: after
        needs: [hang]
        run: echo never
`})
}

func startRun(t *testing.T, e *env, dir string, args ...string) (*exec.Cmd, *strings.Builder) {
	t.Helper()
	cmd := e.command(dir, append([]string{"run"}, args...)...)
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, out
}

func TestCtrlCStopsEverythingAndExits130(t *testing.T) {
	e := newEnv(t)
	pids := t.TempDir()
	cmd, out := startRun(t, e, hangingProject(t, pids))
	bg := atoi(t, waitFile(t, filepath.Join(pids, "bg.pid")))
	sh := atoi(t, waitFile(t, filepath.Join(pids, "sh.pid")))

	start := time.Now()
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("velocity run did not exit after SIGINT; output:\n%s", out)
	}
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Errorf("exit code %d, want 130; output:\n%s", code, out)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("stopping took %v", took)
	}
	executortest.WaitGone(t, 5*time.Second, sh, bg)

	show := e.run(t.TempDir(), "show", "last")
	if !strings.Contains(show.stdout, "cancelled") {
		t.Errorf("velocity show does not say cancelled:\n%s", show.stdout)
	}
	runs := e.run(t.TempDir(), "runs")
	if !strings.Contains(runs.stdout, "cancelled") {
		t.Errorf("velocity runs:\n%s", runs.stdout)
	}
}

func TestSIGKILLLeavesNoOrphansAndRunShowsInterrupted(t *testing.T) {
	e := newEnv(t)
	pids := t.TempDir()
	cmd, out := startRun(t, e, hangingProject(t, pids))
	bg := atoi(t, waitFile(t, filepath.Join(pids, "bg.pid")))
	sh := atoi(t, waitFile(t, filepath.Join(pids, "sh.pid")))

	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	executortest.WaitGone(t, 5*time.Second, sh, bg)

	show := e.run(t.TempDir(), "show", "last")
	if !strings.Contains(show.stdout, "interrupted") || strings.Contains(show.stdout, "running") {
		t.Errorf("after SIGKILL the run must show as interrupted, never running:\n%s\n(run output: %s)", show.stdout, out)
	}
	if !strings.Contains(show.stdout, "after") || !strings.Contains(show.stdout, "skipped") {
		t.Errorf("the action that never started should be skipped:\n%s", show.stdout)
	}
}

func TestTimeoutKillsGrandchildren(t *testing.T) {
	e := newEnv(t)
	pids := t.TempDir()
	dir := project(t, map[string]string{"velocity.yml": `
stages:
  - name: build
    actions:
      - name: slow
        timeout: 500ms
        env: { PIDS: "` + pids + `" }
        run: |
          sleep 100 &
          echo $! > "$PIDS/bg.pid"
          sleep 100
`})
	start := time.Now()
	r := e.run(dir, "run")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1:\n%s%s", r.code, r.stdout, r.stderr)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("took %v", took)
	}
	if !strings.Contains(r.stdout, "timed out after 500ms") {
		t.Errorf("output does not say it timed out:\n%s", r.stdout)
	}
	executortest.WaitGone(t, 5*time.Second, atoi(t, waitFile(t, filepath.Join(pids, "bg.pid"))))
}
