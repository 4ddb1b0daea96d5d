package sidecar_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/executor"
	"github.com/velocity-ci/velocity/internal/executor/local"
	"github.com/velocity-ci/velocity/internal/sidecar"
	"github.com/velocity-ci/velocity/internal/spec"
)

// buffer is a goroutine-safe log sink, so that tests may read it while
// sidecars still run.
type buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func newExecutor(t *testing.T) *local.Executor {
	t.Helper()
	e, err := local.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func options(t *testing.T, e sidecar.Runner, log *buffer) sidecar.Options {
	return sidecar.Options{
		Executor:  e,
		Env:       []string{"PATH=/usr/local/bin:/usr/bin:/bin"},
		Dir:       t.TempDir(),
		Log:       log,
		KillGrace: 2 * time.Second,
	}
}

// pidRecorder is a script prefix that writes the sidecar's pid and
// directory where the test can read them after the directory is gone.
const pidRecorder = `echo $$ > "$REC/pid"; echo "$VELOCITY_SIDECAR_DIR" > "$REC/dir"; `

func readPid(t *testing.T, rec string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(rec, "pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func envValue(t *testing.T, env []string, name string) string {
	t.Helper()
	for _, kv := range env {
		if k, v, _ := strings.Cut(kv, "="); k == name {
			return v
		}
	}
	t.Fatalf("%s not in %q", name, env)
	return ""
}

func accepts(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// gone says whether pid no longer exists. The executor reaps the processes
// it starts, so an exited sidecar leaves no zombie behind.
func gone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// runClient runs script through the executor as an action would, with the
// group's variables.
func runClient(t *testing.T, e sidecar.Runner, env []string, script string) string {
	t.Helper()
	var out buffer
	res, err := e.Run(context.Background(), executor.Step{
		Name:   "client",
		Script: script,
		Env:    append([]string{"PATH=/usr/local/bin:/usr/bin:/bin"}, env...),
		Dir:    t.TempDir(),
		Output: &out,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 {
		t.Fatalf("client exited %d: %s", res.ExitCode, out.String())
	}
	return out.String()
}

func TestPythonServerReadyByTCP(t *testing.T) {
	t.Parallel()
	e := newExecutor(t)
	var log buffer
	rec := t.TempDir()
	g, err := sidecar.Start(context.Background(), []spec.Sidecar{{
		Name: "web-app",
		// Fails unless it runs in its own empty directory.
		Run: pidRecorder + `[ "$PWD" = "$VELOCITY_SIDECAR_DIR" ] && [ -z "$(ls -A)" ] || exit 9
echo "greeting=$GREETING"
exec python3 -m http.server "$PORT" --bind 127.0.0.1`,
		Env: map[string]string{"REC": rec, "GREETING": "hi"},
	}}, options(t, e, &log))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Stop()

	env := g.Env()
	port := envValue(t, env, "WEB_APP_PORT")
	if _, err := strconv.Atoi(port); err != nil {
		t.Fatalf("WEB_APP_PORT=%q", port)
	}
	if h := envValue(t, env, "WEB_APP_HOST"); h != "127.0.0.1" {
		t.Errorf("WEB_APP_HOST=%q", h)
	}
	addr := envValue(t, env, "WEB_APP_ADDR")
	if addr != "127.0.0.1:"+port {
		t.Errorf("WEB_APP_ADDR=%q, port %s", addr, port)
	}
	got := runClient(t, e, env, `python3 -c 'import os, urllib.request; print(urllib.request.urlopen("http://" + os.environ["WEB_APP_ADDR"] + "/").status)'`)
	if strings.TrimSpace(got) != "200" {
		t.Fatalf("client got %q", got)
	}

	pid := readPid(t, rec)
	dirb, _ := os.ReadFile(filepath.Join(rec, "dir"))
	dir := strings.TrimSpace(string(dirb))
	start := time.Now()
	if err := g.Stop(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Stop of a server that obeys SIGTERM took %v", d)
	}
	if accepts(addr) {
		t.Errorf("%s still accepts connections after Stop", addr)
	}
	if !gone(pid) {
		t.Errorf("pid %d still exists after Stop", pid)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("sidecar directory %s not removed: %v", dir, err)
	}
	if err := g.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	for _, want := range []string{"[sidecar web-app] greeting=hi\n", `[sidecar web-app] 127.0.0.1 - - [`, `"GET / HTTP/1.1" 200`} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
}

func TestRedis(t *testing.T) {
	t.Parallel()
	for _, bin := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is required in CI: %v", bin, err)
			}
			t.Skipf("%s not installed: %v", bin, err)
		}
	}
	e := newExecutor(t)
	var log buffer
	g, err := sidecar.Start(context.Background(), []spec.Sidecar{{
		Name:  "redis",
		Run:   `redis-server --port $PORT --save '' --appendonly no --dir $VELOCITY_SIDECAR_DIR`,
		Ready: spec.Ready{Run: `redis-cli -p $PORT ping`},
	}}, options(t, e, &log))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Stop()

	got := runClient(t, e, g.Env(), `redis-cli -p $REDIS_PORT set k v
redis-cli -p $REDIS_PORT get k`)
	if got != "OK\nv\n" {
		t.Fatalf("client got %q", got)
	}
	addr := envValue(t, g.Env(), "REDIS_ADDR")
	if err := g.Stop(); err != nil {
		t.Fatal(err)
	}
	if accepts(addr) {
		t.Errorf("redis still accepts connections on %s after Stop", addr)
	}
	if !strings.Contains(log.String(), "[sidecar redis] ") || !strings.Contains(log.String(), "Ready to accept connections") {
		t.Errorf("log lacks redis's start-up lines:\n%s", log.String())
	}
}

func TestExitBeforeReadyFailsFast(t *testing.T) {
	t.Parallel()
	e := newExecutor(t)
	var log buffer
	rec := t.TempDir()
	opt := options(t, e, &log)
	start := time.Now()
	g, err := sidecar.Start(context.Background(), []spec.Sidecar{
		{
			// Ready long before the other one fails, so it must be stopped.
			Name: "healthy",
			Run:  pidRecorder + `exec python3 -m http.server "$PORT" --bind 127.0.0.1`,
			Env:  map[string]string{"REC": rec},
		},
		{
			Name: "broken",
			Run: `sleep 1
for i in $(seq 1 30); do echo "line $i"; done
echo "config error: no such file" >&2
exit 3`,
		},
	}, opt)
	elapsed := time.Since(start)
	if err == nil {
		g.Stop()
		t.Fatal("Start succeeded")
	}
	if elapsed > 5*time.Second {
		t.Errorf("Start took %v to notice the exit (the default readiness timeout is 30s)", elapsed)
	}
	msg := err.Error()
	t.Log(msg)
	for _, want := range []string{`sidecar "broken"`, "exited with code 3 before becoming ready", "line 12", "line 30", "config error: no such file"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "line 11\n") || strings.Contains(msg, "healthy") {
		t.Errorf("error has more than the last 20 lines of the failed sidecar:\n%s", msg)
	}
	var se *sidecar.StartError
	if !errors.As(err, &se) || se.Sidecar != "broken" || len(se.Output) != 20 {
		t.Errorf("errors.As StartError: %+v", se)
	}
	if pid := readPid(t, rec); !gone(pid) {
		t.Errorf("healthy sidecar (pid %d) not stopped after the start failed", pid)
	}
	if entries, _ := os.ReadDir(opt.Dir); len(entries) != 0 {
		t.Errorf("sidecar directories left behind: %v", entries)
	}
}

func TestNeverReady(t *testing.T) {
	t.Parallel()
	e := newExecutor(t)
	var log buffer
	rec := t.TempDir()
	start := time.Now()
	_, err := sidecar.Start(context.Background(), []spec.Sidecar{{
		Name:  "slow",
		Run:   pidRecorder + `echo booting; exec sleep 1000`,
		Env:   map[string]string{"REC": rec},
		Ready: spec.Ready{Run: `echo "not yet on $PORT"; false`, Timeout: 500 * time.Millisecond},
	}}, options(t, e, &log))
	elapsed := time.Since(start)
	if err == nil {
		t.Fatal("Start succeeded")
	}
	if elapsed < 500*time.Millisecond || elapsed > 3*time.Second {
		t.Errorf("Start failed after %v, want about 500ms", elapsed)
	}
	msg := err.Error()
	t.Log(msg)
	for _, want := range []string{`sidecar "slow"`, "not ready after 500ms", "last check said", "not yet on ", "(exit code 1)", "booting"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if pid := readPid(t, rec); !gone(pid) {
		t.Errorf("pid %d still exists after the failed start", pid)
	}
}

func TestNeverReadyByTCP(t *testing.T) {
	t.Parallel()
	e := newExecutor(t)
	_, err := sidecar.Start(context.Background(), []spec.Sidecar{{
		Name:  "deaf",
		Run:   `exec sleep 1000`,
		Ready: spec.Ready{Timeout: 300 * time.Millisecond, Interval: 50 * time.Millisecond},
	}}, options(t, e, nil))
	if err == nil || !strings.Contains(err.Error(), "not ready after 300ms: last check said") || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("err = %v", err)
	}
}

func TestTwoSidecarsOneIgnoresSIGTERM(t *testing.T) {
	t.Parallel()
	e := newExecutor(t)
	var log buffer
	recA, recB := t.TempDir(), t.TempDir()
	opt := options(t, e, &log)
	opt.KillGrace = time.Second
	g, err := sidecar.Start(context.Background(), []spec.Sidecar{
		{
			Name: "polite",
			Run:  pidRecorder + `exec python3 -m http.server "$PORT" --bind 127.0.0.1`,
			Env:  map[string]string{"REC": recA},
		},
		{
			// The ignored signal survives exec, so the server ignores it too.
			Name: "stubborn",
			Run:  pidRecorder + `trap '' TERM; exec python3 -m http.server "$PORT" --bind 127.0.0.1`,
			Env:  map[string]string{"REC": recB},
		},
	}, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Stop()
	env := g.Env()
	a, b := envValue(t, env, "POLITE_ADDR"), envValue(t, env, "STUBBORN_ADDR")
	if a == b {
		t.Fatalf("both sidecars on %s", a)
	}
	for _, addr := range []string{a, b} {
		if !accepts(addr) {
			t.Errorf("%s does not accept connections after Start", addr)
		}
	}
	pids := []int{readPid(t, recA), readPid(t, recB)}

	start := time.Now()
	if err := g.Stop(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 900*time.Millisecond || d > 4*time.Second {
		t.Errorf("Stop took %v, want about the 1s grace period", d)
	}
	for i, addr := range []string{a, b} {
		if accepts(addr) {
			t.Errorf("%s still accepts connections after Stop", addr)
		}
		if !gone(pids[i]) {
			t.Errorf("pid %d still exists after Stop", pids[i])
		}
	}
}

func TestStopAfterSidecarDied(t *testing.T) {
	t.Parallel()
	e := newExecutor(t)
	rec := t.TempDir()
	g, err := sidecar.Start(context.Background(), []spec.Sidecar{{
		Name: "fragile",
		Run:  pidRecorder + `exec python3 -m http.server "$PORT" --bind 127.0.0.1`,
		Env:  map[string]string{"REC": rec},
	}}, options(t, e, nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(readPid(t, rec), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := g.Stop(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Stop took %v", d)
	}
}

func TestStartInterrupted(t *testing.T) {
	t.Parallel()
	e := newExecutor(t)
	rec := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := sidecar.Start(ctx, []spec.Sidecar{{
		Name:  "waiting",
		Run:   pidRecorder + `exec sleep 1000`,
		Env:   map[string]string{"REC": rec},
		Ready: spec.Ready{Run: `false`},
	}}, options(t, e, nil))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's", err)
	}
	if pid := readPid(t, rec); !gone(pid) {
		t.Errorf("pid %d still exists", pid)
	}
}

func TestNames(t *testing.T) {
	t.Parallel()
	e := newExecutor(t)
	g, err := sidecar.Start(context.Background(), nil, options(t, e, nil))
	if err != nil || len(g.Env()) != 0 || g.Stop() != nil {
		t.Fatalf("empty group: %v", err)
	}
	_, err = sidecar.Start(context.Background(), []spec.Sidecar{{Name: "my-db", Run: "true"}, {Name: "my_db", Run: "true"}}, options(t, e, nil))
	if err == nil || !strings.Contains(err.Error(), "MY_DB_PORT") {
		t.Fatalf("clashing names: err = %v", err)
	}
}

// TestSidecarEnvOverrides checks the order of precedence: base, the
// sidecar's own variables, then PORT and VELOCITY_SIDECAR_DIR.
func TestSidecarEnvOverrides(t *testing.T) {
	t.Parallel()
	e := newExecutor(t)
	rec := t.TempDir()
	opt := options(t, e, nil)
	opt.Env = append(opt.Env, "A=base", "B=base", "PORT=1")
	g, err := sidecar.Start(context.Background(), []spec.Sidecar{{
		Name:  "env",
		Run:   `env | sort > "$REC/env"; exec sleep 1000`,
		Env:   map[string]string{"REC": rec, "B": "own", "PORT": "2"},
		Ready: spec.Ready{Run: `test -s "$REC/env"`},
	}}, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Stop()
	b, err := os.ReadFile(filepath.Join(rec, "env"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	for _, want := range []string{"A=base", "B=own", "PORT=" + envValue(t, g.Env(), "ENV_PORT")} {
		if !slices.Contains(lines, want) {
			t.Errorf("sidecar env lacks %s: %q", want, lines)
		}
	}
}
