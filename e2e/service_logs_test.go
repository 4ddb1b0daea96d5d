package e2e

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// loggingProject is a service that prints its secret at start and on
// every request, as careless apps do, and starts a process in a session
// of its own (setsid) that would outlive it if nothing killed it.
func loggingProject(t *testing.T) string {
	return project(t, map[string]string{
		"app.py": `import http.server, os, sys
here = os.path.dirname(os.path.abspath(__file__))
version = open(os.path.join(here, "version.txt")).read().strip()
print("starting version=" + version + " secret=" + os.environ["API_TOKEN"], flush=True)
if version == "crash":
    print("fatal: cannot open database with " + os.environ["API_TOKEN"], flush=True)
    sys.exit(3)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        print("request " + self.path + " secret=" + os.environ["API_TOKEN"], flush=True)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(("release " + version + "\n").encode())
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
`,
		"version.txt": "one\n",
		"velocity.yml": `
stages:
  - name: build
    actions:
      - { name: package, run: "mkdir -p out && cp app.py version.txt out/", outputs: [out] }
  - name: prod
    actions:
      - { name: deploy, deploy: api, environment: prod }
services:
  api:
    from: package
    run: 'setsid sleep 1000 & echo "stray pid $!"; exec python3 out/app.py'
    replicas: 2
    secrets: [API_TOKEN]
    health: { http: /, interval: 200ms }
    strategy: rolling
    drain: 500ms
    deadline: 5s
environments:
  prod: {}
`,
	})
}

// strays finds the pids the instances of a release said they left running.
func strays(t *testing.T, e *env, release string) []int {
	t.Helper()
	var pids []int
	re := regexp.MustCompile(`(?m)^stray pid (\d+)$`)
	_ = filepath.WalkDir(e.home, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(filepath.Dir(p), filepath.Join("api", release, ".logs")) {
			for _, m := range re.FindAllStringSubmatch(readFile(t, p), -1) {
				n, _ := strconv.Atoi(m[1])
				pids = append(pids, n)
			}
		}
		return nil
	})
	return pids
}

// alive reports whether pid runs (a zombie does not count).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && f[0] != "Z" && f[0] != "X"
}

// TestServiceLogsMaskSecretsFollowDeploysAndStraysDie: through velocity
// serve, a service's secret is *** in its log files, in service logs and
// in a failed deploy's message; service logs -f moves on to the new
// release when it goes live; without -f it shows the live instances only;
// and what an instance started with setsid dies with it.
func TestServiceLogsMaskSecretsFollowDeploysAndStraysDie(t *testing.T) {
	requireTool(t, "python3")
	requireTool(t, "setsid")
	e := newEnv(t)
	const value = "s3cr3tTOKENvalue"
	set := e.command(t.TempDir(), "secret", "set", "API_TOKEN")
	set.Stdin = strings.NewReader(value)
	if out, err := set.CombinedOutput(); err != nil {
		t.Fatalf("secret set: %v\n%s", err, out)
	}
	srv := startServer(t, e)
	dir := loggingProject(t)
	const host = "api.prod.localhost"
	deployVersion := func(version string) result {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "version.txt"), []byte(version+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return e.run(dir, "run")
	}
	if r := deployVersion("one"); r.code != 0 {
		t.Fatalf("deploy one: exit %d\n%s%s\nserver:\n%s", r.code, r.stdout, r.stderr, srv.out)
	}
	for range 3 {
		if code, body := get(t, srv.addr, host, "/"); code != 200 || body != "release one\n" {
			t.Fatalf("GET: %d %q", code, body)
		}
	}

	follow := e.command(dir, "service", "logs", "prod", "api", "-f")
	fout := &output{}
	follow.Stdout, follow.Stderr = fout, fout
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	followDone := make(chan struct{})
	go func() { follow.Wait(); close(followDone) }()
	t.Cleanup(func() { follow.Process.Kill(); <-followDone })
	waitOutput := func(what string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !strings.Contains(fout.String(), what) {
			if time.Now().After(deadline) {
				t.Fatalf("service logs -f never printed %q:\n%s", what, fout)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitOutput("starting version=one secret=***")
	waitOutput("request / secret=***")

	oneStrays := strays(t, e, "r1")
	if len(oneStrays) != 2 {
		t.Fatalf("want the 2 strays of r1's instances, got %v", oneStrays)
	}
	if r := deployVersion("two"); r.code != 0 {
		t.Fatalf("deploy two: exit %d\n%s%s\nserver:\n%s", r.code, r.stdout, r.stderr, srv.out)
	}
	waitOutput("-- now release r2 --")
	waitOutput("starting version=two secret=***")
	get(t, srv.addr, host, "/two")
	waitOutput("request /two secret=***")
	if i, j := strings.Index(fout.String(), "-- now release r2 --"), strings.Index(fout.String(), "version=two"); i > j {
		t.Errorf("release r2's output before the line announcing it:\n%s", fout)
	}
	for _, pid := range oneStrays {
		if alive(pid) {
			t.Errorf("pid %d, started with setsid by a replaced r1 instance, still runs", pid)
		}
	}

	// A release that crashes at start: the deploy fails quoting its last
	// lines, masked.
	failed := deployVersion("crash")
	if failed.code == 0 || !strings.Contains(failed.stdout+failed.stderr, "fatal: cannot open database with ***") {
		t.Errorf("failed deploy: exit %d, no masked log line in its message:\n%s%s", failed.code, failed.stdout, failed.stderr)
	}
	if logs := e.run(dir, "logs", "last"); !strings.Contains(logs.stdout, "***") {
		t.Errorf("velocity logs last shows no masked line:\n%s", logs.stdout)
	}

	plain := e.run(dir, "service", "logs", "prod", "api")
	if plain.code != 0 || strings.Count(plain.stdout, "(release r2) ==") != 2 || !strings.Contains(plain.stdout, "starting version=two secret=***") ||
		strings.Contains(plain.stdout, "version=one") || strings.Contains(plain.stdout, "version=crash") {
		t.Errorf("service logs: exit %d, want the 2 live r2 instances only:\n%s%s", plain.code, plain.stdout, plain.stderr)
	}
	old := e.run(dir, "service", "logs", "prod", "api", "--release", "r1")
	if old.code != 0 || !strings.Contains(old.stdout, "starting version=one secret=***") || strings.Contains(old.stdout, "version=two") {
		t.Errorf("service logs --release r1: exit %d\n%s%s", old.code, old.stdout, old.stderr)
	}

	// A server shutdown takes the live instances' strays too.
	twoStrays := strays(t, e, "r2")
	if len(twoStrays) != 2 {
		t.Fatalf("want the 2 strays of r2's instances, got %v", twoStrays)
	}
	srv.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-srv.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("server did not stop on SIGTERM:\n%s", srv.out)
	}
	for _, pid := range twoStrays {
		if alive(pid) {
			t.Errorf("pid %d, started with setsid by an r2 instance, outlived the server", pid)
		}
	}

	// Nothing Velocity stored holds the value in clear.
	_ = filepath.WalkDir(e.home, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(readFile(t, p), value) {
			t.Errorf("%s holds the secret in clear", p)
		}
		return nil
	})
	for _, out := range []string{fout.String(), plain.stdout, old.stdout, failed.stdout, failed.stderr, srv.out.String()} {
		if strings.Contains(out, value) {
			t.Errorf("the secret shown in clear:\n%s", out)
		}
	}
}

// TestServeSaysWhetherLimitsAreEnforced: services deployed through velocity
// serve get their memory and CPU limits from its runtime, so its output
// says at start whether it can enforce them, and a deploy of a service
// with limits it cannot enforce says so in the run's output.
func TestServeSaysWhetherLimitsAreEnforced(t *testing.T) {
	requireTool(t, "python3")
	e := newEnv(t)
	srv := startServer(t, e)
	m := srv.waitFor(t, regexp.MustCompile(`velocity: .*memory and CPU limits are (not )?enforced`), 5*time.Second)
	var st syscall.Statfs_t
	const cgroup2Magic = 0x63677270
	cgroup2 := syscall.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == cgroup2Magic
	if !cgroup2 && m[1] == "" {
		t.Errorf("no cgroup v2 here, but serve says limits are enforced:\n%s", srv.out)
	}
	dir := project(t, map[string]string{
		"app.py": `import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
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
      - { name: deploy, deploy: small, environment: prod }
services:
  small:
    from: package
    run: exec python3 out/app.py
    memory: 128M
    cpu: 0.5
    health: { http: /, interval: 200ms }
    deadline: 10s
environments:
  prod: {}
`,
	})
	r := e.run(dir, "run")
	if r.code != 0 {
		t.Fatalf("velocity run: exit %d\n%s%s\nserver:\n%s", r.code, r.stdout, r.stderr, srv.out)
	}
	said := strings.Contains(r.stdout+r.stderr, "memory and CPU limits are not enforced")
	if said != (m[1] != "") {
		t.Errorf("serve says %q, but the run through it says the limits are not enforced: %v\n%s%s", m[0], said, r.stdout, r.stderr)
	}
}

// TestNoServeRunMasksSecretsAndLeavesNoStrays: velocity run hosting the
// service itself (--no-serve: it stops the services when the pipeline
// ends) masks the secret the same way, and what the instances started
// with setsid does not outlive the run.
func TestNoServeRunMasksSecretsAndLeavesNoStrays(t *testing.T) {
	requireTool(t, "python3")
	requireTool(t, "setsid")
	e := newEnv(t)
	const value = "an0therTOKENvalue"
	set := e.command(t.TempDir(), "secret", "set", "API_TOKEN")
	set.Stdin = strings.NewReader(value)
	if out, err := set.CombinedOutput(); err != nil {
		t.Fatalf("secret set: %v\n%s", err, out)
	}
	dir := loggingProject(t)
	r := e.run(dir, "run", "--no-serve", "--proxy-addr", "127.0.0.1:0")
	if r.code != 0 {
		t.Fatalf("velocity run --no-serve: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	pids := strays(t, e, "r1")
	if len(pids) != 2 {
		t.Fatalf("want the 2 strays of r1's instances, got %v", pids)
	}
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("pid %d, started with setsid by an instance, outlived velocity run", pid)
		}
	}
	logs := e.run(dir, "service", "logs", "prod", "api")
	if !strings.Contains(logs.stdout, "starting version=one secret=***") {
		t.Errorf("service logs: exit %d, no masked start line:\n%s%s", logs.code, logs.stdout, logs.stderr)
	}
	_ = filepath.WalkDir(e.home, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(readFile(t, p), value) {
			t.Errorf("%s holds the secret in clear", p)
		}
		return nil
	})
	if strings.Contains(r.stdout+r.stderr+logs.stdout, value) {
		t.Errorf("the secret shown in clear:\n%s%s%s", r.stdout, r.stderr, logs.stdout)
	}
}
