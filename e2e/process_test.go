package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/executor/executortest"
)

// escapeScript leaves two processes outside the action's process group and
// session, one by setsid and one by a double fork, and writes their pids
// to $PIDS/setsid.pid and $PIDS/daemon.pid (waitFile wants the newline).
const escapeScript = `setsid sh -c 'echo $$ > "$PIDS/s.tmp"; mv "$PIDS/s.tmp" "$PIDS/setsid.pid"; exec sleep 300' </dev/null >/dev/null 2>&1 &
( setsid sh -c 'echo $$ > "$PIDS/d.tmp"; mv "$PIDS/d.tmp" "$PIDS/daemon.pid"; exec sleep 300' </dev/null >/dev/null 2>&1 & ) &
while [ ! -s "$PIDS/setsid.pid" ] || [ ! -s "$PIDS/daemon.pid" ]; do sleep 0.01; done
`

// escapedPids waits for the pids escapeScript wrote and checks that the
// processes really left the group: otherwise the test shows nothing.
func escapedPids(t *testing.T, pids string) []int {
	t.Helper()
	var out []int
	for _, name := range []string{"setsid.pid", "daemon.pid"} {
		pid := atoi(t, waitFile(t, filepath.Join(pids, name)))
		if g, err := syscall.Getpgid(pid); err == nil && g != pid {
			t.Fatalf("process %d (%s) is in group %d: it did not leave the action's group", pid, name, g)
		}
		out = append(out, pid)
	}
	// A failed test must not leave them either; the environment check
	// keeps a recycled pid of someone else's process safe.
	t.Cleanup(func() {
		for _, pid := range out {
			env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
			if err == nil && bytes.Contains(env, []byte("PIDS="+pids+"\x00")) {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	return out
}

func escapingProject(t *testing.T, pids, rest string) string {
	return project(t, map[string]string{"velocity.yml": `
stages:
  - name: build
    actions:
      - name: escape
        cache: false
        env: { PIDS: "` + pids + `" }
        run: |
` + indent(escapeScript+rest, "          ")})
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n") + "\n"
}

// A process an action moved out of its group (setsid, a double fork)
// is gone once the action succeeded, as the README promises for
// background processes.
func TestSetsidChildIsKilledWhenTheActionSucceeds(t *testing.T) {
	e := newEnv(t)
	pids := t.TempDir()
	r := e.run(escapingProject(t, pids, "echo done\n"), "run")
	if r.code != 0 {
		t.Fatalf("exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	executortest.WaitGone(t, 5*time.Second, escapedPids(t, pids)...)
}

func TestSetsidChildIsKilledOnCtrlC(t *testing.T) {
	e := newEnv(t)
	pids := t.TempDir()
	cmd, out := startRun(t, e, escapingProject(t, pids, "sleep 100\n"))
	escaped := escapedPids(t, pids)
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
	executortest.WaitGone(t, 5*time.Second, escaped...)
}

func TestSetsidChildIsKilledWhenVelocityIsKilled(t *testing.T) {
	e := newEnv(t)
	pids := t.TempDir()
	cmd, _ := startRun(t, e, escapingProject(t, pids, "sleep 100\n"))
	escaped := escapedPids(t, pids)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	executortest.WaitGone(t, 10*time.Second, escaped...)
}

// A sidecar runs through the same executor: what it moved out of its
// group goes when the action is done.
func TestSetsidChildOfASidecarIsKilledAfterTheAction(t *testing.T) {
	e := newEnv(t)
	pids := t.TempDir()
	dir := project(t, map[string]string{"velocity.yml": `
stages:
  - name: test
    actions:
      - name: with-sidecar
        cache: false
        env: { PIDS: "` + pids + `" }
        sidecars:
          - name: helper
            run: |
` + indent(escapeScript+"exec sleep 300\n", "              ") + `            ready: test -s "$PIDS/daemon.pid"
        run: echo done
`})
	r := e.run(dir, "run")
	if r.code != 0 {
		t.Fatalf("exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	executortest.WaitGone(t, 5*time.Second, escapedPids(t, pids)...)
}

// A deployed instance's process that left its group dies with `velocity
// serve`, even when the server is killed with SIGKILL.
func TestSetsidChildOfAServiceDiesWithTheServer(t *testing.T) {
	requireTool(t, "python3")
	requireTool(t, "curl")
	e := newEnv(t)
	srv := startServer(t, e)
	pids := t.TempDir()
	dir := project(t, map[string]string{
		"app.py": `import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok\n")
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
`,
		"velocity.yml": `
stages:
  - name: build
    actions:
      - { name: package, run: "mkdir -p out && cp app.py out/", outputs: [out] }
  - name: prod
    actions:
      - { name: deploy, deploy: api, environment: prod }
services:
  api:
    from: package
    env: { PIDS: "` + pids + `" }
    run: |
` + indent(escapeScript+"exec python3 out/app.py\n", "      ") + `    health: { http: /, interval: 200ms }
    deadline: 20s
environments:
  prod: {}
`,
	})
	if r := e.run(dir, "run"); r.code != 0 {
		t.Fatalf("exit %d:\n%s%s\nserver:\n%s", r.code, r.stdout, r.stderr, srv.out)
	}
	escaped := escapedPids(t, pids)
	for _, pid := range escaped {
		if executortest.Gone(pid) {
			t.Fatalf("process %d is not running while the service is", pid)
		}
	}
	srv.cmd.Process.Signal(syscall.SIGKILL)
	<-srv.done
	executortest.WaitGone(t, 10*time.Second, escaped...)
}
