package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// This file drives the edges of deploys a user meets on the second run:
// an unchanged release, a bounded port range, and a health endpoint that
// keeps saying no.

// startServerWith starts velocity serve with extra flags.
func startServerWith(t *testing.T, e *env, args ...string) *server {
	t.Helper()
	cmd := e.command(t.TempDir(), append([]string{"serve", "--proxy-addr", "127.0.0.1:0"}, args...)...)
	s := &server{cmd: cmd, out: &output{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = s.out, s.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-s.done
	})
	m := s.waitFor(t, regexp.MustCompile(`serving; proxy at http://(127\.0\.0\.1:\d+)`), 20*time.Second)
	s.addr = m[1]
	return s
}

// edgeApp answers "release VERSION pid PID" on / and, on /healthz, 503
// "warming up" for WARMUP seconds after it starts (forever when WARMUP is
// "forever"), then 200.
const edgeApp = `import http.server, os, time
here = os.path.dirname(os.path.abspath(__file__))
version = open(os.path.join(here, "version.txt")).read().strip()
warmup = os.environ.get("WARMUP", "0")
ready_at = float("inf") if warmup == "forever" else time.time() + float(warmup)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/healthz" and time.time() < ready_at:
            self.send_response(503)
            self.end_headers()
            self.wfile.write(b"warming up: cache not loaded\n")
            return
        self.send_response(200)
        self.end_headers()
        self.wfile.write(("release %s pid %d\n" % (version, os.getpid())).encode())
    def log_message(self, *a): pass
print("listening on", os.environ["PORT"], flush=True)
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
`

// edgeProject is a project deploying edgeApp as service api to prod with
// the given service settings (YAML lines under the service).
func edgeProject(t *testing.T, service string) string {
	return project(t, map[string]string{
		"app.py":      edgeApp,
		"version.txt": "one\n",
		"velocity.yml": `
stages:
  - name: build
    actions:
      - { name: package, run: "mkdir -p out && cp app.py version.txt out/", outputs: [out] }
  - name: prod
    actions:
      - { name: deploy, deploy: api, environment: prod }
      - { name: check, needs: [deploy], run: 'curl -fsS "$VELOCITY_URL/" | grep "^release "' }
services:
  api:
    from: package
    run: exec python3 out/app.py
    health: { http: /healthz, interval: 200ms }
    drain: 1s
` + service + `
environments:
  prod: {}
`,
	})
}

// pidsServing asks the service through the proxy until it has seen n
// different pids (or 100 requests), and returns them sorted.
func pidsServing(t *testing.T, addr, host string, n int) []string {
	t.Helper()
	seen := map[string]bool{}
	re := regexp.MustCompile(`pid (\d+)`)
	for i := 0; i < 100 && len(seen) < n; i++ {
		code, body := get(t, addr, host, "/")
		m := re.FindStringSubmatch(body)
		if code != 200 || m == nil {
			t.Fatalf("the service answered %d %q", code, body)
		}
		seen[m[1]] = true
	}
	var out []string
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// A second run that changed nothing the service is made of leaves its
// instances alone: same processes, same release, which the run says;
// its acceptance action still gets the URL. A changed replica count is
// a real deploy.
func TestUnchangedRunDoesNotRedeploy(t *testing.T) {
	requireTool(t, "python3")
	requireTool(t, "curl")
	e := newEnv(t)
	srv := startServerWith(t, e)
	dir := edgeProject(t, "    replicas: 2\n    deadline: 20s")
	const host = "api.prod.localhost"

	if r := e.run(dir, "run"); r.code != 0 {
		t.Fatalf("first run: exit %d\n%s%s\nserver:\n%s", r.code, r.stdout, r.stderr, srv.out)
	}
	before := pidsServing(t, srv.addr, host, 2)

	r := e.run(dir, "run")
	if r.code != 0 {
		t.Fatalf("unchanged run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "prod/api r1 already serves this release") {
		t.Errorf("the unchanged run does not say r1 already serves:\n%s", r.stdout)
	}
	if !strings.Contains(r.stdout, "prod/api (release r1): http://"+host+":") {
		t.Errorf("the run does not list release r1 as what serves:\n%s", r.stdout)
	}
	if after := pidsServing(t, srv.addr, host, 2); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("instances' pids %v after the unchanged run, were %v", after, before)
	}
	rel := e.run(dir, "releases", "prod", "api")
	if rel.code != 0 || strings.Contains(rel.stdout, "r2") || !regexp.MustCompile(`(?m)^\*\s+r1\s`).MatchString(rel.stdout) {
		t.Errorf("velocity releases after an unchanged run: exit %d\n%s%s", rel.code, rel.stdout, rel.stderr)
	}

	// Three replicas instead of two: a real deploy.
	yml := filepath.Join(dir, "velocity.yml")
	b, err := os.ReadFile(yml)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(yml, []byte(strings.Replace(string(b), "replicas: 2", "replicas: 3", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := e.run(dir, "run"); r.code != 0 || strings.Contains(r.stdout, "already serves") || !strings.Contains(r.stdout, "prod/api (release r3)") {
		t.Errorf("run with 3 replicas: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if after := pidsServing(t, srv.addr, host, 3); len(after) != 3 {
		t.Errorf("%d instances answer, want 3", len(after))
	}
}

// --port-range keeps the instances (through velocity serve) and the
// sidecars of a run in the range; a range too small for the replicas
// fails the deploy naming the range.
func TestPortRangeBoundsInstancesAndSidecars(t *testing.T) {
	requireTool(t, "python3")
	requireTool(t, "curl")
	e := newEnv(t)
	srv := startServerWith(t, e)
	dir := edgeProject(t, "    replicas: 2\n    deadline: 20s")
	// A sidecar whose port the action prints.
	yml := filepath.Join(dir, "velocity.yml")
	b, _ := os.ReadFile(yml)
	withSidecar := strings.Replace(string(b), `      - { name: package, run: "mkdir -p out && cp app.py version.txt out/", outputs: [out] }`,
		`      - name: package
        run: 'echo "sidecar port $CACHE_PORT"; mkdir -p out && cp app.py version.txt out/'
        outputs: [out]
        sidecars:
          - { name: cache, run: 'exec python3 -m http.server "$PORT" --bind 127.0.0.1' }`, 1)
	if err := os.WriteFile(yml, []byte(withSidecar), 0o644); err != nil {
		t.Fatal(err)
	}

	r := e.run(dir, "run", "--port-range", "41000-41009")
	if r.code != 0 {
		t.Fatalf("run: exit %d\n%s%s\nserver:\n%s", r.code, r.stdout, r.stderr, srv.out)
	}
	inRange := func(what, port string) {
		t.Helper()
		if p, err := strconv.Atoi(port); err != nil || p < 41000 || p > 41009 {
			t.Errorf("%s on port %s, outside 41000-41009", what, port)
		}
	}
	m := regexp.MustCompile(`sidecar port (\d+)`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("the action did not print its sidecar's port:\n%s", r.stdout)
	}
	inRange("the sidecar", m[1])
	st := e.run(dir, "service", "status", "prod", "api")
	addrs := regexp.MustCompile(`api-prod-\S+\s+127\.0\.0\.1:(\d+)`).FindAllStringSubmatch(st.stdout, -1)
	if len(addrs) != 2 {
		t.Fatalf("velocity service status shows %d instance addresses, want 2:\n%s%s", len(addrs), st.stdout, st.stderr)
	}
	for _, a := range addrs {
		inRange("an instance", a[1])
	}

	// One port for two replicas.
	if err := os.WriteFile(filepath.Join(dir, "version.txt"), []byte("two\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = e.run(dir, "run", "--port-range", "41010-41010")
	if r.code != 1 || !strings.Contains(r.stdout, "no free port in port range 41010-41010 (--port-range)") {
		t.Errorf("two replicas in a range of one port: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := e.run(dir, "run", "--port-range", "9-8"); r.code != 2 || !strings.Contains(r.stderr, "--port-range") {
		t.Errorf("a reversed range: exit %d\n%s", r.code, r.stderr)
	}
}

// A health endpoint that answers 503 every time fails the deploy in
// seconds, not at its 60s deadline, with the answer and advice that fit;
// one that answers 503 for 2s while warming up and then 200 deploys.
func TestHealthEndpointThatKeepsFailingFailsEarly(t *testing.T) {
	requireTool(t, "python3")
	requireTool(t, "curl")
	e := newEnv(t)
	dir := edgeProject(t, "    env: { WARMUP: forever }\n    deadline: 60s")
	start := time.Now()
	r := e.run(dir, "run", "--no-serve", "--proxy-addr", "127.0.0.1:0")
	took := time.Since(start)
	if r.code != 1 {
		t.Fatalf("a service answering 503 forever: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	t.Logf("failed after %v:\n%s", took, r.stdout)
	if took > 15*time.Second {
		t.Errorf("the deploy took %v to fail (deadline 60s)", took)
	}
	for _, want := range []string{
		`answers 503 Service Unavailable on /healthz ("warming up: cache not loaded")`,
		"the health endpoint itself reports unhealthy",
		"check the instance's log below",
		"(health.fail_after 10s)",
		"listening on",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the output does not say %q", want)
		}
	}
	if strings.Contains(r.stdout, "raise the deploy deadline") {
		t.Errorf("advises more time to an endpoint that keeps saying it is unhealthy")
	}

	warm := edgeProject(t, "    env: { WARMUP: \"2\" }\n    deadline: 60s")
	if r := e.run(warm, "run", "--no-serve", "--proxy-addr", "127.0.0.1:0"); r.code != 0 {
		t.Errorf("a service warming up for 2s: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
