package local_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/executor"
	"github.com/velocity-ci/velocity/internal/executor/executortest"
	"github.com/velocity-ci/velocity/internal/executor/local"
)

// The tests here look at the processes of steps by pid, which only works
// for steps that run on this host: they show that the local executor's
// cancel and clean-up reach every process, also one that left the
// step's process group. The conformance suite shows the same through
// what a later step sees.

type runner interface {
	Run(context.Context, executor.Step) (executor.Result, error)
}

func TestHostProcesses(t *testing.T) {
	newExecutor := func(t *testing.T) runner {
		e, err := local.New()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		return e
	}
	t.Run("CancelKillsWholeTree", func(t *testing.T) { testCancel(t, newExecutor(t)) })
	t.Run("CancelForcesAfterGrace", func(t *testing.T) { testForce(t, newExecutor(t)) })
	t.Run("LeftoverBackgroundProcessIsKilled", func(t *testing.T) { testLeftover(t, newExecutor(t)) })
	t.Run("SetsidLeftoverIsKilled", func(t *testing.T) { testEscaped(t, newExecutor(t), setsidScript) })
	t.Run("DoubleForkLeftoverIsKilled", func(t *testing.T) { testEscaped(t, newExecutor(t), doubleForkScript) })
	t.Run("SetsidLeftoverHoldingOutputIsKilled", func(t *testing.T) { testEscaped(t, newExecutor(t), setsidHoldingOutputScript) })
	t.Run("CancelKillsSetsidProcesses", func(t *testing.T) { testCancelEscaped(t, newExecutor(t)) })
}

// buffer is a goroutine-safe output sink.
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

func baseEnv(extra ...string) []string {
	return append([]string{"PATH=/usr/local/bin:/usr/bin:/bin"}, extra...)
}

func run(t *testing.T, e runner, ctx context.Context, s executor.Step) (executor.Result, string) {
	t.Helper()
	out := &buffer{}
	s.Output = out
	if s.Env == nil {
		s.Env = baseEnv()
	}
	if s.Dir == "" {
		s.Dir = t.TempDir()
	}
	if s.Name == "" {
		s.Name = t.Name()
	}
	res, err := e.Run(ctx, s)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res, out.String()
}

// spawnScript starts a grandchild in the background, records both pids and
// blocks, the shape of a test that starts a server and hangs.
const spawnScript = `sleep 100 &
echo $! > bg.pid
echo $$ > sh.pid
echo started
sleep 100
`

func readPid(t *testing.T, path string) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				return pid
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid file %s never written", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func testCancel(t *testing.T, e runner) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type ran struct {
		res executor.Result
		out string
	}
	done := make(chan ran, 1)
	go func() {
		res, out := run(t, e, ctx, executor.Step{Script: spawnScript, Dir: dir, KillGrace: 5 * time.Second})
		done <- ran{res, out}
	}()
	bg := readPid(t, filepath.Join(dir, "bg.pid"))
	sh := readPid(t, filepath.Join(dir, "sh.pid"))
	start := time.Now()
	cancel()
	var r ran
	select {
	case r = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("cancel took %v; SIGTERM should end sleep at once", took)
	}
	if !r.res.Stopped || r.res.ExitCode == 0 {
		t.Errorf("result %+v, want Stopped and a failing exit", r.res)
	}
	executortest.WaitGone(t, 2*time.Second, sh, bg)
}

func testForce(t *testing.T, e runner) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan executor.Result, 1)
	go func() {
		res, _ := run(t, e, ctx, executor.Step{
			Script:    "trap '' TERM\n" + spawnScript,
			Dir:       dir,
			KillGrace: 300 * time.Millisecond,
		})
		done <- res
	}()
	bg := readPid(t, filepath.Join(dir, "bg.pid"))
	sh := readPid(t, filepath.Join(dir, "sh.pid"))
	start := time.Now()
	cancel()
	var res executor.Result
	select {
	case res = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return: a step ignoring SIGTERM must be killed after the grace period")
	}
	if took := time.Since(start); took < 250*time.Millisecond {
		t.Errorf("killed after %v, before the grace period", took)
	}
	if res.Signal == "" {
		t.Errorf("result %+v: want the killing signal named", res)
	}
	executortest.WaitGone(t, 2*time.Second, sh, bg)
}

func testLeftover(t *testing.T, e runner) {
	dir := t.TempDir()
	start := time.Now()
	res, out := run(t, e, context.Background(), executor.Step{
		Script: "sleep 100 &\necho $! > bg.pid\necho done",
		Dir:    dir,
	})
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Run took %v: it must not wait for a background process holding the output open", took)
	}
	if res.ExitCode != 0 || out != "done\n" {
		t.Fatalf("exit %d, output %q", res.ExitCode, out)
	}
	executortest.WaitGone(t, 2*time.Second, readPid(t, filepath.Join(dir, "bg.pid")))
}

// Scripts that leave a process outside the step's process group and
// session, write its pid to stray.pid and wait until it is written.
const (
	setsidScript = `setsid sh -c 'echo $$ > stray.pid.tmp; mv stray.pid.tmp stray.pid; exec sleep 300' </dev/null >/dev/null 2>&1 &
while [ ! -s stray.pid ]; do sleep 0.01; done
`
	doubleForkScript = `( setsid sh -c 'echo $$ > stray.pid.tmp; mv stray.pid.tmp stray.pid; exec sleep 300' </dev/null >/dev/null 2>&1 & ) &
while [ ! -s stray.pid ]; do sleep 0.01; done
`
	// The stray keeps the step's output open: Run must not wait for it.
	setsidHoldingOutputScript = `setsid sh -c 'echo $$ > stray.pid.tmp; mv stray.pid.tmp stray.pid; exec sleep 300' &
while [ ! -s stray.pid ]; do sleep 0.01; done
`
)

// leftGroup fails the test if pid is still in the step's process group or
// session: then the test would not show what it claims to.
func leftGroup(t *testing.T, pid, sh int) {
	t.Helper()
	pgrp, err := syscall.Getpgid(pid)
	if err != nil {
		t.Fatalf("stray %d: %v", pid, err)
	}
	if pgrp == sh || pgrp != pid {
		t.Fatalf("stray %d is in process group %d (the step's shell is %d): it did not leave with setsid", pid, pgrp, sh)
	}
}

// A process the step moved out of its group and session (setsid, a double
// fork) is killed when the step ends, as one left in the group is.
func testEscaped(t *testing.T, e runner, script string) {
	dir := t.TempDir()
	start := time.Now()
	res, out := run(t, e, context.Background(), executor.Step{Script: script + "echo $$ > sh.pid\necho done\n", Dir: dir})
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Run took %v", took)
	}
	if res.ExitCode != 0 || out != "done\n" {
		t.Fatalf("exit %d, output %q", res.ExitCode, out)
	}
	stray := readPid(t, filepath.Join(dir, "stray.pid"))
	if executortest.Gone(stray) {
		return
	}
	leftGroup(t, stray, readPid(t, filepath.Join(dir, "sh.pid")))
	executortest.WaitGone(t, 2*time.Second, stray)
}

func testCancelEscaped(t *testing.T, e runner) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan executor.Result, 1)
	go func() {
		res, _ := run(t, e, ctx, executor.Step{
			Script:    setsidScript + "echo $$ > sh.pid\nsleep 100\n",
			Dir:       dir,
			KillGrace: 5 * time.Second,
		})
		done <- res
	}()
	stray := readPid(t, filepath.Join(dir, "stray.pid"))
	sh := readPid(t, filepath.Join(dir, "sh.pid"))
	leftGroup(t, stray, sh)
	cancel()
	select {
	case res := <-done:
		if !res.Stopped {
			t.Errorf("result %+v, want Stopped", res)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	executortest.WaitGone(t, 2*time.Second, sh, stray)
}
