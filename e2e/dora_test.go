package e2e

import (
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A commit made two hours ago goes from source to production: the run
// records its committer date, the deploy goes live, and the four keys
// count one deploy whose lead time is those two hours and the deploy.
func TestDoraOfARealDeploy(t *testing.T) {
	requireTool(t, "go")
	e := newEnv(t)
	dir := t.TempDir()
	copyDir(t, "../examples/hello", dir)
	git(t, dir, "init", "-q")
	git(t, dir, "add", "-A")
	t.Setenv("GIT_COMMITTER_DATE", time.Now().Add(-2*time.Hour).UTC().Format(time.RFC3339))
	git(t, dir, "commit", "-qm", "c")

	cmd, out := startRun(t, e, dir, "--approve", "--proxy-addr", "127.0.0.1:0")
	defer func() {
		cmd.Process.Signal(syscall.SIGINT)
		cmd.Wait()
	}()
	deadline := time.Now().Add(90 * time.Second)
	for !strings.Contains(out.String(), "serving through the proxy at") {
		if time.Now().After(deadline) || cmd.ProcessState != nil {
			cmd.Process.Kill()
			t.Fatalf("never served:\n%s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	r := e.run(dir, "metrics", "dora", "hello", "--days", "7")
	if r.code != 0 {
		t.Fatalf("velocity metrics dora: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`deployment frequency +0\.14 a day +1 deploy +high`),
		regexp.MustCompile(`lead time for changes +median 2h(\d+m)?(\d+s)? +1 change +elite`),
		regexp.MustCompile(`change failure rate +0% +0 of 1 change failed +elite`),
		regexp.MustCompile(`time to restore +- +0 of 0 failures restored +-`),
	} {
		if !want.MatchString(r.stdout) {
			t.Errorf("velocity metrics dora lacks %s:\n%s", want, r.stdout)
		}
	}
	if r := e.run(dir, "metrics", "dora", "hello", "--environment", "staging", "--days", "7"); !strings.Contains(r.stdout, "hello in staging") ||
		!regexp.MustCompile(`deployment frequency +0\.14 a day +1 deploy`).MatchString(r.stdout) {
		t.Errorf("staging: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
