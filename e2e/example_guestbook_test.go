package e2e

import (
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/dockertest"
)

// TestExampleGuestbookShipsContainers is the containerised example's
// README command, velocity run --approve: the images are built, the tests
// pass inside the toolchain image against the kv sidecar container, the
// app's image is pushed to Velocity's registry, and two containers of it
// serve production behind the proxy until Ctrl-C, after which none is
// left. A second run takes everything from the cache.
func TestExampleGuestbookShipsContainers(t *testing.T) {
	requireTool(t, "go")
	requireTool(t, "busybox")
	c := dockertest.Client(t)
	e := newEnv(t)
	dir := t.TempDir()
	copyDir(t, "../examples/guestbook", dir)
	git(t, dir, "init", "-q")
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-qm", "c")
	commit := git(t, dir, "rev-parse", "HEAD")

	cmd, out := startRun(t, e, dir, "--approve", "--proxy-addr", "127.0.0.1:0")
	addrRe := regexp.MustCompile(`serving through the proxy at (127\.0\.0\.1:\d+)`)
	var addr string
	for deadline := time.Now().Add(4 * time.Minute); addr == ""; time.Sleep(100 * time.Millisecond) {
		if m := addrRe.FindStringSubmatch(out.String()); m != nil {
			addr = m[1]
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("never served:\n%s", out)
		}
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cmd.Process.Signal(syscall.SIGINT)
			cmd.Wait()
		}
	}
	defer stop()
	for _, want := range []string{
		"testing against the kv server at kv:6380", // the sidecar container, by name
		"pushing 127.0.0.1:",                       // to the run's registry
		"staging serves the new release",
		"production/deploy succeeded",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	code, body := get(t, addr, "web.production.localhost", "/")
	if code != 200 || !strings.HasPrefix(body, "guestbook "+commit+": 0 entries") {
		t.Errorf("production answered %d %q, want the new release (commit %s)", code, body, commit)
	}
	if got := ownContainers(t, c, e.home); len(got) != 4 {
		t.Errorf("containers of the data directory: %v, want 2 per environment", got)
	}
	if r := e.run(dir, "registry", "ls"); r.code != 0 || !strings.Contains(r.stdout, "guestbook/app") || !strings.Contains(r.stdout, commit[:12]) {
		t.Errorf("velocity registry ls: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	stop()
	if c := cmd.ProcessState.ExitCode(); c != 0 {
		t.Errorf("exit %d after serving, want 0:\n%s", c, out)
	}
	if got := ownContainers(t, c, e.home); len(got) != 0 {
		t.Errorf("containers left after Ctrl-C: %v", got)
	}

	again := e.run(dir, "run", "--approve", "--no-serve", "--proxy-addr", "127.0.0.1:0")
	if again.code != 0 {
		t.Fatalf("second run: exit %d\n%s%s", again.code, again.stdout, again.stderr)
	}
	for _, a := range []string{"compile", "toolchain", "kvd", "app", "test"} {
		if !regexp.MustCompile(`↺ ` + a + ` .*cached`).MatchString(again.stdout) {
			t.Errorf("second run executed build/%s again:\n%s", a, again.stdout)
		}
	}
}
