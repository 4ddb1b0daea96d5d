package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/netport"
	"github.com/velocity-ci/velocity/internal/proc"
)

// serverBin is the test service (testdata/server), built once.
var serverBin string

func TestMain(m *testing.M) {
	if os.Getenv(hostModeVar) != "" {
		os.Exit(hostMain())
	}
	dir, err := os.MkdirTemp("", "velocity-runtime-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	serverBin = filepath.Join(dir, "server")
	build := exec.Command("go", "build", "-o", serverBin, "./testdata/server")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build test server:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func newLocal(t *testing.T, cfg Config) *Local {
	t.Helper()
	cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), nil))
	l, err := NewLocal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := l.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return l
}

func serverSpec(t *testing.T, command string, env ...string) Spec {
	return Spec{
		Service:     "web",
		Environment: "test",
		Release:     "r1",
		Dir:         t.TempDir(),
		Command:     command,
		Env:         append([]string{"PATH=" + os.Getenv("PATH"), "SERVER=" + serverBin, "RELEASE=r1"}, env...),
		LogDir:      t.TempDir(),
	}
}

func start(t *testing.T, l *Local, s Spec) Instance {
	t.Helper()
	inst, err := l.Start(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

func stop(t *testing.T, inst Instance) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	began := time.Now()
	if err := inst.Stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
	return time.Since(began)
}

var client = &http.Client{Timeout: time.Second}

func get(addr string) (string, error) {
	resp, err := client.Get("http://" + addr + "/")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitServing(t *testing.T, inst Instance) string {
	t.Helper()
	var body string
	waitFor(t, 5*time.Second, "the instance to serve on "+inst.Addr(), func() bool {
		var err error
		body, err = get(inst.Addr())
		return err == nil
	})
	return body
}

// gone reports whether pid has exited; a zombie waiting for an init that
// does not reap counts as gone.
func gone(pid int) bool {
	state, _, ok := proc.Stat(pid)
	return !ok || state == 'Z' || state == 'X'
}

// pidsIn finds the pids the test commands print ("... pid N").
func pidsIn(lines []string, prefix string) []int {
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(prefix) + `.*\bpid (\d+)`)
	var pids []int
	for _, l := range lines {
		if m := re.FindStringSubmatch(l); m != nil {
			n, _ := strconv.Atoi(m[1])
			pids = append(pids, n)
		}
	}
	return pids
}

func hasLine(lines []string, substr string) bool {
	for _, l := range lines {
		if strings.Contains(l, substr) {
			return true
		}
	}
	return false
}

func TestServeAndStopGracefully(t *testing.T) {
	l := newLocal(t, Config{})
	// The shell cannot exec the server (a command follows it), so it stays
	// the group leader and dies of SIGTERM before the server has finished
	// shutting down: the server must still get its graceful shutdown.
	s := serverSpec(t, `echo "release $RELEASE"; "$SERVER"; echo after`, "SHUTDOWN_DELAY=300ms")
	inst := start(t, l, s)
	if body := waitServing(t, inst); !strings.Contains(body, "hello from r1") {
		t.Fatalf("body %q", body)
	}
	if st := inst.State(); st != StateRunning {
		t.Fatalf("state %s", st)
	}
	leader := pidOf(inst)
	servers := pidsIn(inst.LastLines(10), "listening on")
	if leader == 0 || len(servers) != 1 {
		t.Fatalf("leader %d, servers %v, lines %q", leader, servers, inst.LastLines(10))
	}

	took := stop(t, inst)
	if took < 300*time.Millisecond || took > 5*time.Second {
		t.Errorf("stop took %s, want the 300ms graceful shutdown and not the 10s grace", took)
	}
	select {
	case <-inst.Exited():
	default:
		t.Fatal("Exited not closed after Stop")
	}
	lines := inst.LastLines(ringLines)
	for _, want := range []string{"release r1", "shutting down", "stopped", "velocity: instance " + inst.ID() + " stopped"} {
		if !hasLine(lines, want) {
			t.Errorf("no line with %q in %q", want, lines)
		}
	}
	if hasLine(lines, "still running after SIGTERM") {
		t.Errorf("server was killed: %q", lines)
	}
	if inst.State() != StateStopped || pidOf(inst) != 0 {
		t.Errorf("state %s pid %d after stop", inst.State(), pidOf(inst))
	}
	if !gone(leader) || !gone(servers[0]) || proc.GroupAlive(leader) {
		t.Errorf("processes left behind: leader %d gone %v, server %d gone %v", leader, gone(leader), servers[0], gone(servers[0]))
	}
	if err := inst.Stop(context.Background()); err != nil {
		t.Errorf("second stop: %v", err)
	}
	if st := inst.Restarts(); st != 0 {
		t.Errorf("restarts %d", st)
	}

	b, err := os.ReadFile(filepath.Join(s.LogDir, inst.ID()+".log"))
	if err != nil {
		t.Fatal(err)
	}
	log := string(b)
	for _, want := range []string{"release r1\n", "listening on " + inst.Addr(), "shutting down\n", "stopped\n", "velocity: stopping instance " + inst.ID(), "velocity: instance " + inst.ID() + " stopped\n"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

func TestRestartAfterKill(t *testing.T) {
	for _, tc := range []struct{ name, command string }{
		// exec: the leader is the server itself.
		{"server", `exec "$SERVER"`},
		// The leader is the shell: killing it must take the server and the
		// sleeper with it, or the restart would find the port taken.
		{"shell", `sleep 300 & echo "sleeper pid $!"; "$SERVER"; echo after`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLocal(t, Config{})
			inst := start(t, l, serverSpec(t, tc.command))
			addr := inst.Addr()
			first := waitServing(t, inst)
			before := inst.LastLines(ringLines)
			victim := pidOf(inst)
			if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			began := time.Now()
			waitFor(t, 3*time.Second, "the restart", func() bool {
				if inst.Restarts() != 1 {
					return false
				}
				_, err := get(addr)
				return err == nil
			})
			if took := time.Since(began); took > 1500*time.Millisecond {
				t.Errorf("serving again took %s", took)
			}
			second, _ := get(addr)
			if inst.Addr() != addr || second == first || pidOf(inst) == victim {
				t.Errorf("addr %s→%s, body %q→%q, pid %d→%d", addr, inst.Addr(), first, second, victim, pidOf(inst))
			}
			if inst.State() != StateRunning {
				t.Errorf("state %s", inst.State())
			}
			lines := inst.LastLines(ringLines)
			if !hasLine(lines, "instance "+inst.ID()+" was killed by SIGKILL; restarting in 200ms") {
				t.Errorf("no restart note in %q", lines)
			}
			for _, pid := range append(pidsIn(before, "listening on"), pidsIn(before, "sleeper")...) {
				if !gone(pid) {
					t.Errorf("pid %d of the killed start is still running", pid)
				}
			}
			stop(t, inst)
			for _, pid := range append(pidsIn(lines, "listening on"), pidsIn(lines, "sleeper")...) {
				if !gone(pid) {
					t.Errorf("pid %d still running after Stop", pid)
				}
			}
		})
	}
}

func TestCrashLoopBacksOff(t *testing.T) {
	l := newLocal(t, Config{})
	inst := start(t, l, serverSpec(t, `echo "boom $(date +%s%N)"; exit 3`))
	booms := func() []time.Time {
		var ts []time.Time
		for _, line := range inst.LastLines(ringLines) {
			if ns, ok := strings.CutPrefix(line, "boom "); ok {
				n, _ := strconv.ParseInt(ns, 10, 64)
				ts = append(ts, time.Unix(0, n))
			}
		}
		return ts
	}
	// Starts at about 0, 0.2, 0.6 and 1.4 seconds.
	waitFor(t, 6*time.Second, "four crashes", func() bool { return len(booms()) >= 4 })
	ts := booms()
	var gaps []time.Duration
	for k := 1; k < 4; k++ {
		gaps = append(gaps, ts[k].Sub(ts[k-1]))
	}
	if gaps[0] < 150*time.Millisecond || gaps[0] > time.Second || gaps[1] <= gaps[0] || gaps[2] <= gaps[1] {
		t.Errorf("gaps between starts %v, want growing from about 200ms", gaps)
	}
	lines := inst.LastLines(ringLines)
	for _, d := range []string{"200ms", "400ms", "800ms"} {
		if !hasLine(lines, "instance "+inst.ID()+" exited with code 3; restarting in "+d) {
			t.Errorf("no note for the %s backoff in %q", d, lines)
		}
	}
	if n := inst.Restarts(); n < 3 {
		t.Errorf("restarts %d", n)
	}
	// Stop is prompt in the middle of a backoff.
	if took := stop(t, inst); took > time.Second {
		t.Errorf("stop took %s", took)
	}
}

func TestStopKillsAfterGrace(t *testing.T) {
	l := newLocal(t, Config{})
	s := serverSpec(t, `exec "$SERVER"`, "IGNORE_TERM=1")
	s.StopGrace = 500 * time.Millisecond
	inst := start(t, l, s)
	waitServing(t, inst)
	pid := pidOf(inst)
	took := stop(t, inst)
	if took < 500*time.Millisecond || took > 3*time.Second {
		t.Errorf("stop took %s, want about the 500ms grace", took)
	}
	lines := inst.LastLines(ringLines)
	if !hasLine(lines, "ignoring SIGTERM") || !hasLine(lines, "still running after SIGTERM; killed") {
		t.Errorf("lines %q", lines)
	}
	if !gone(pid) {
		t.Errorf("pid %d still running", pid)
	}
}

func TestStopContextCutsGrace(t *testing.T) {
	l := newLocal(t, Config{})
	s := serverSpec(t, `exec "$SERVER"`, "IGNORE_TERM=1")
	s.StopGrace = time.Minute
	inst := start(t, l, s)
	waitServing(t, inst)
	pid := pidOf(inst)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	began := time.Now()
	err := inst.Stop(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("stop: %v", err)
	}
	if took := time.Since(began); took > 3*time.Second {
		t.Errorf("stop took %s", took)
	}
	if !gone(pid) || inst.State() != StateStopped {
		t.Errorf("pid %d gone %v, state %s", pid, gone(pid), inst.State())
	}
}

func TestStartErrors(t *testing.T) {
	l := newLocal(t, Config{})
	s := serverSpec(t, `exec "$SERVER"`)
	s.Dir = filepath.Join(s.Dir, "missing")
	if _, err := l.Start(t.Context(), s); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing dir: %v", err)
	}
	s = serverSpec(t, " ")
	if _, err := l.Start(t.Context(), s); err == nil {
		t.Error("empty command started")
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := l.Start(ctx, serverSpec(t, "true")); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestFixedPortAndEnv(t *testing.T) {
	l := newLocal(t, Config{})
	ports, err := (&netport.Picker{}).Pick(netport.Range{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	port := ports[0]
	s := serverSpec(t, `echo "port=$PORT pwd=$PWD"; exec "$SERVER"`, "PORT=1")
	s.Port = port
	inst := start(t, l, s)
	waitServing(t, inst)
	if want := fmt.Sprintf("127.0.0.1:%d", port); inst.Addr() != want {
		t.Errorf("addr %s, want %s", inst.Addr(), want)
	}
	if want := fmt.Sprintf("port=%d pwd=%s", port, s.Dir); !hasLine(inst.LastLines(5), want) {
		t.Errorf("no %q in %q", want, inst.LastLines(5))
	}
	stop(t, inst)
}

func TestCloseStopsInstances(t *testing.T) {
	l, err := NewLocal(Config{})
	if err != nil {
		t.Fatal(err)
	}
	inst := start(t, l, serverSpec(t, `exec "$SERVER"`))
	waitServing(t, inst)
	pid := pidOf(inst)
	if err := l.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-inst.Exited():
	default:
		t.Fatal("instance still running after Close")
	}
	if !gone(pid) {
		t.Errorf("pid %d still running", pid)
	}
	if _, err := l.Start(t.Context(), serverSpec(t, "true")); err == nil {
		t.Error("Start after Close succeeded")
	}
}

func TestFailedWhenReleaseDirVanishes(t *testing.T) {
	l := newLocal(t, Config{})
	s := serverSpec(t, `sleep 0.1; exit 1`)
	s.Dir = filepath.Join(t.TempDir(), "release")
	if err := os.Mkdir(s.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	inst := start(t, l, s)
	if err := os.Remove(s.Dir); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the failed state", func() bool { return inst.State() == StateFailed })
	if !hasLine(inst.LastLines(5), "could not be started (release directory: ") {
		t.Errorf("lines %q", inst.LastLines(5))
	}
	if n := inst.Restarts(); n != 0 {
		t.Errorf("restarts %d", n)
	}
	stop(t, inst)
	if inst.State() != StateStopped {
		t.Errorf("state %s", inst.State())
	}
}

// pidOf is the pid of a Local instance's current process: not part of
// Instance, since only host processes have one.
func pidOf(in Instance) int { return in.(*instance).Pid() }
