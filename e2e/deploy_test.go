package e2e

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// get fetches url with the given Host header through the proxy address.
func get(t *testing.T, proxyAddr, host, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+proxyAddr+path, nil)
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s%s: %v", host, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestExampleFromSourceToProduction is the README's main command: the
// example goes from source to production, the URLs are printed, and the
// production URL answers from the new release until Ctrl-C.
func TestExampleFromSourceToProduction(t *testing.T) {
	requireTool(t, "go")
	requireTool(t, "curl")
	e := newEnv(t)
	dir := t.TempDir()
	copyDir(t, "../examples/hello", dir)
	git(t, dir, "init", "-q")
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-qm", "c")
	commit := git(t, dir, "rev-parse", "HEAD")

	cmd, out := startRun(t, e, dir, "--approve", "--proxy-addr", "127.0.0.1:0")
	addrRe := regexp.MustCompile(`serving through the proxy at (127\.0\.0\.1:\d+)`)
	deadline := time.Now().Add(90 * time.Second)
	var addr string
	for addr == "" {
		if m := addrRe.FindStringSubmatch(out.String()); m != nil {
			addr = m[1]
		}
		if time.Now().After(deadline) || cmd.ProcessState != nil {
			cmd.Process.Kill()
			t.Fatalf("never served:\n%s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(out.String(), "http://web.production.localhost:") {
		t.Errorf("the production URL is not printed:\n%s", out)
	}
	code, body := get(t, addr, "web.production.localhost", "/")
	if code != 200 || body != "hello from "+commit+"\n" {
		t.Errorf("production answered %d %q, want the new release (commit %s)", code, body, commit)
	}
	if r := e.run(dir, "releases", "production", "web"); r.code != 0 || !strings.Contains(r.stdout, "r1 ") || !strings.Contains(r.stdout, commit[:12]) {
		t.Errorf("velocity releases: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := e.run(dir, "service", "logs", "production", "web"); r.code != 0 || !strings.Contains(r.stdout, "msg=listening") {
		t.Errorf("velocity service logs: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := e.run(dir, "releases", "production", "nope"); r.code != 2 {
		t.Errorf("releases of an unknown service: exit %d", r.code)
	}
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("did not stop after Ctrl-C:\n%s", out)
	}
	if c := cmd.ProcessState.ExitCode(); c != 0 {
		t.Errorf("exit %d after serving a successful run, want 0", c)
	}
}

func TestBrokenReleaseFailsWithItsOwnLogAndOldKeepsServing(t *testing.T) {
	requireTool(t, "python3")
	e := newEnv(t)
	dir := project(t, map[string]string{
		"app.py": `import http.server, os, sys
mode = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "mode.txt")).read().strip()
if mode == "crash":
    print("fatal: cannot open database at /nowhere", flush=True)
    sys.exit(3)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if mode == "good" else 500)
        self.end_headers()
        self.wfile.write(("release " + mode + "\n").encode())
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
`,
		"mode.txt": "good\n",
		"velocity.yml": `
stages:
  - name: build
    actions:
      - { name: package, run: "mkdir -p out && cp app.py mode.txt out/", outputs: [out] }
  - name: prod
    actions:
      - { name: deploy, deploy: api, environment: prod }
services:
  api:
    from: package
    run: exec python3 out/app.py
    health: { http: /, interval: 200ms }
    deadline: 3s
environments:
  prod: {}
`,
	})
	cmd, out := startRun(t, e, dir, "--proxy-addr", "127.0.0.1:0")
	addrRe := regexp.MustCompile(`serving through the proxy at (127\.0\.0\.1:\d+)`)
	var addr string
	for deadline := time.Now().Add(30 * time.Second); addr == ""; time.Sleep(50 * time.Millisecond) {
		if m := addrRe.FindStringSubmatch(out.String()); m != nil {
			addr = m[1]
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("never served:\n%s", out)
		}
	}
	defer func() { cmd.Process.Signal(syscall.SIGINT); cmd.Wait() }()
	if code, body := get(t, addr, "api.prod.localhost", "/"); code != 200 || body != "release good\n" {
		t.Fatalf("first release: %d %q", code, body)
	}
	// The first run keeps serving; the broken releases are deployed
	// through it by runs of the same project that end when done.
	for _, mode := range []string{"crash", "unhealthy"} {
		t.Run(mode, func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(dir, "mode.txt"), []byte(mode+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			r := e.run(dir, "run", "--no-serve", "--proxy-addr", "127.0.0.1:0")
			if r.code != 1 {
				t.Fatalf("exit %d, want 1\n%s", r.code, r.stdout)
			}
			if took := time.Since(start); took > 20*time.Second {
				t.Errorf("the failed deploy took %v; its deadline is 3s", took)
			}
			want := map[string]string{"crash": "fatal: cannot open database at /nowhere", "unhealthy": "GET /: 500"}[mode]
			if !strings.Contains(r.stdout, want) {
				t.Errorf("the failure does not show %q:\n%s", want, r.stdout)
			}
		})
	}
	if code, body := get(t, addr, "api.prod.localhost", "/"); code != 200 || body != "release good\n" {
		t.Errorf("the serving release changed: %d %q", code, body)
	}
}
