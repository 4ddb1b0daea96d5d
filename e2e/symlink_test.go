package e2e

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSymlinkOutputsAreCachedAndExtracted: an output holding a symlink and
// an empty directory is a cache hit on the next unchanged run, restored
// with the link as a link (an action after it checks, every run), and
// `velocity artifacts --to` extracts it the same way. A link leading out
// of the workspace fails the action with a message naming it.
func TestSymlinkOutputsAreCachedAndExtracted(t *testing.T) {
	e := newEnv(t)
	counts := t.TempDir()
	dir := project(t, map[string]string{
		"velocity.yml": `
env: { COUNTS: "` + counts + `" }
stages:
  - name: b
    actions:
      - name: make
        outputs: [app]
        run: |
          echo make >> "$COUNTS/make"
          mkdir -p app/empty && echo hi > app/real && ln -s real app/alias && chmod 0750 app/empty
      - name: check
        needs: [make]
        cache: false
        run: |
          test -L app/alias && test "$(readlink app/alias)" = real && test "$(cat app/alias)" = hi && test -d app/empty
          echo check >> "$COUNTS/check"
`,
	})
	git(t, dir, "init", "-q")
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-qm", "c")

	if r := e.run(dir, "run"); r.code != 0 {
		t.Fatalf("first run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r := e.run(dir, "run")
	if r.code != 0 {
		t.Fatalf("second run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "==> b/make cached: result of run 1") || strings.Contains(r.stdout+r.stderr, "unusable") {
		t.Errorf("second run: make is not a cache hit:\n%s%s", r.stdout, r.stderr)
	}
	if got := readFile(t, filepath.Join(counts, "make")); got != "make\n" {
		t.Errorf("make executed %d times, want once", strings.Count(got, "\n"))
	}
	if got := readFile(t, filepath.Join(counts, "check")); got != "check\ncheck\n" {
		t.Errorf("the restored link did not pass the check in both runs: %q", got)
	}

	out := filepath.Join(t.TempDir(), "out")
	x := e.run(dir, "artifacts", "last", "make", "--to", out)
	if x.code != 0 {
		t.Fatalf("artifacts --to: exit %d\n%s%s", x.code, x.stdout, x.stderr)
	}
	if !strings.Contains(x.stdout, "extracted 1 file, 1 symlink and 2 directories into") {
		t.Errorf("artifacts --to says: %s", x.stdout)
	}
	if target, err := os.Readlink(filepath.Join(out, "app/alias")); err != nil || target != "real" {
		t.Errorf("extracted app/alias: %q, %v; want a link to real", target, err)
	}
	if fi, err := os.Lstat(filepath.Join(out, "app/empty")); err != nil || fi.Mode() != fs.ModeDir|0o750 {
		t.Errorf("extracted app/empty: %v, %v; want an empty directory drwxr-x---", fi, err)
	}
	if got := readFile(t, filepath.Join(out, "app/alias")); got != "hi\n" {
		t.Errorf("app/alias reads %q", got)
	}
	if l := e.run(dir, "artifacts", "last"); !strings.Contains(l.stdout, "app/alias -> real") || !strings.Contains(l.stdout, "app/empty/") {
		t.Errorf("artifacts listing:\n%s", l.stdout)
	}

	escaping := project(t, map[string]string{"velocity.yml": `
stages:
  - name: b
    actions:
      - { name: make, outputs: [app], run: "mkdir -p app && ln -s ../../etc/passwd app/pw" }
`})
	r = e.run(escaping, "run")
	if want := "output app/pw is a symlink to ../../etc/passwd, which leads outside the workspace"; r.code != 1 || !strings.Contains(r.stdout, want) {
		t.Errorf("a link leading outside: exit %d, want 1 and %q:\n%s%s", r.code, want, r.stdout, r.stderr)
	}
}

// TestServiceFromVirtualenvAndNodeModules deploys a Python service from an
// output holding a real virtualenv (whose interpreter is an absolute link
// to the system's, and its aliases relative links) and a node_modules tree
// with a relative .bin link, as npm makes them. The service runs with the
// virtualenv's interpreter and executes the package's script through the
// .bin link. A second, unchanged run deploys the same release from the
// cached output.
func TestServiceFromVirtualenvAndNodeModules(t *testing.T) {
	requireTool(t, "python3")
	e := newEnv(t)
	dir := project(t, map[string]string{
		"app.py": `import http.server, os, subprocess, sys
x = os.path.join("node_modules", ".bin", "x")
in_venv = sys.prefix != sys.base_prefix and os.path.samefile(sys.prefix, ".venv")
ran = subprocess.run([x], capture_output=True, text=True, check=True).stdout.strip()
body = "venv=%s link=%s x=%s\n" % (in_venv, os.readlink(x), ran)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(body.encode())
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
`,
		"velocity.yml": `
stages:
  - name: build
    actions:
      - name: package
        outputs: [.venv, node_modules, app.py]
        run: |
          python3 -m venv --without-pip .venv
          test -L .venv/bin/python
          mkdir -p node_modules/pkg/bin node_modules/.bin
          printf '#!/bin/sh\necho from-x\n' > node_modules/pkg/bin/x.js
          chmod +x node_modules/pkg/bin/x.js
          ln -s ../pkg/bin/x.js node_modules/.bin/x
  - name: prod
    actions:
      - { name: deploy, deploy: api, environment: prod }
services:
  api:
    from: package
    run: exec .venv/bin/python app.py
    health: { http: /, interval: 200ms }
    deadline: 20s
environments:
  prod: {}
`,
	})
	git(t, dir, "init", "-q")
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-qm", "c")

	cmd, out := startRun(t, e, dir, "--proxy-addr", "127.0.0.1:0")
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	defer func() { cmd.Process.Signal(syscall.SIGINT); <-exited }()
	addrRe := regexp.MustCompile(`serving through the proxy at (127\.0\.0\.1:\d+)`)
	var addr string
	for deadline := time.Now().Add(60 * time.Second); addr == ""; time.Sleep(50 * time.Millisecond) {
		if m := addrRe.FindStringSubmatch(out.String()); m != nil {
			addr = m[1]
			break
		}
		select {
		case <-exited:
			t.Fatalf("the run ended without serving:\n%s", out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("never served:\n%s", out)
		}
	}
	want := "venv=True link=../pkg/bin/x.js x=from-x\n"
	if code, body := get(t, addr, "api.prod.localhost", "/"); code != 200 || body != want {
		t.Fatalf("the service answered %d %q, want %q\n%s", code, body, want, out)
	}

	// The first run keeps serving on its own proxy port; this one deploys
	// from the cached output and stops when done.
	r := e.run(dir, "run", "--no-serve", "--proxy-addr", "127.0.0.1:0")
	if r.code != 0 {
		t.Fatalf("second run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "==> build/package cached: result of run 1") {
		t.Errorf("second run: package is not a cache hit:\n%s", r.stdout)
	}
}
