// Package executortest is the conformance suite every executor.Executor
// implementation runs from its own tests.
package executortest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/executor"
)

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

// baseEnv is the environment steps get in the suite: enough to find the
// usual tools, nothing else.
func baseEnv(extra ...string) []string {
	return append([]string{"PATH=/usr/local/bin:/usr/bin:/bin"}, extra...)
}

// Run runs the suite against the executor made by newExecutor.
func Run(t *testing.T, newExecutor func(t *testing.T) executor.Executor) {
	t.Run("ExitCodes", func(t *testing.T) { testExitCodes(t, newExecutor(t)) })
	t.Run("EnvironmentIsExactlyTheStepEnv", func(t *testing.T) { testEnv(t, newExecutor(t)) })
	t.Run("ScriptIsNotInterpolated", func(t *testing.T) { testNoInterpolation(t, newExecutor(t)) })
	t.Run("WorkingDirectory", func(t *testing.T) { testDir(t, newExecutor(t)) })
	t.Run("CombinedOutputInOrder", func(t *testing.T) { testOutput(t, newExecutor(t)) })
	t.Run("PipefailAndErrexit", func(t *testing.T) { testPipefail(t, newExecutor(t)) })
	t.Run("CancelKillsWholeTree", func(t *testing.T) { testCancel(t, newExecutor(t)) })
	t.Run("CancelForcesAfterGrace", func(t *testing.T) { testForce(t, newExecutor(t)) })
	t.Run("LeftoverBackgroundProcessIsKilled", func(t *testing.T) { testLeftover(t, newExecutor(t)) })
	t.Run("SetsidLeftoverIsKilled", func(t *testing.T) { testEscaped(t, newExecutor(t), setsidScript) })
	t.Run("DoubleForkLeftoverIsKilled", func(t *testing.T) { testEscaped(t, newExecutor(t), doubleForkScript) })
	t.Run("SetsidLeftoverHoldingOutputIsKilled", func(t *testing.T) { testEscaped(t, newExecutor(t), setsidHoldingOutputScript) })
	t.Run("CancelKillsSetsidProcesses", func(t *testing.T) { testCancelEscaped(t, newExecutor(t)) })
	t.Run("LargeOutput", func(t *testing.T) { testLargeOutput(t, newExecutor(t)) })
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, newExecutor(t)) })
}

func run(t *testing.T, e executor.Executor, ctx context.Context, s executor.Step) (executor.Result, string) {
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

func testExitCodes(t *testing.T, e executor.Executor) {
	for _, tc := range []struct {
		script string
		want   int
	}{
		{"true", 0},
		{"exit 3", 3},
		{"no-such-command-velocity", 127},
	} {
		res, out := run(t, e, context.Background(), executor.Step{Script: tc.script})
		if res.ExitCode != tc.want {
			t.Errorf("%q: exit %d, want %d (output %q)", tc.script, res.ExitCode, tc.want, out)
		}
		if res.Stopped {
			t.Errorf("%q: Stopped set without cancellation", tc.script)
		}
	}
}

func testEnv(t *testing.T, e executor.Executor) {
	t.Setenv("VELOCITY_SUITE_LEAK", "leaked")
	res, out := run(t, e, context.Background(), executor.Step{
		Script: `echo "foo=$FOO"; echo "leak=${VELOCITY_SUITE_LEAK-unset}"`,
		Env:    baseEnv("FOO=a b;c"),
	})
	if res.ExitCode != 0 || out != "foo=a b;c\nleak=unset\n" {
		t.Fatalf("exit %d, output %q", res.ExitCode, out)
	}
}

func testNoInterpolation(t *testing.T, e executor.Executor) {
	// A value an attacker controls, such as a branch name, is only ever an
	// environment variable; the script quotes it and it stays text.
	res, out := run(t, e, context.Background(), executor.Step{
		Script: `printf '%s\n' "$BRANCH"`,
		Env:    baseEnv("BRANCH=$(touch pwned); `id`"),
	})
	if res.ExitCode != 0 || out != "$(touch pwned); `id`\n" {
		t.Fatalf("exit %d, output %q", res.ExitCode, out)
	}
}

func testDir(t *testing.T, e executor.Executor) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "marker"), []byte("here\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, out := run(t, e, context.Background(), executor.Step{Script: "cat marker", Dir: dir})
	if res.ExitCode != 0 || out != "here\n" {
		t.Fatalf("exit %d, output %q", res.ExitCode, out)
	}
}

func testOutput(t *testing.T, e executor.Executor) {
	res, out := run(t, e, context.Background(), executor.Step{Script: "echo one; echo two >&2; echo three"})
	if res.ExitCode != 0 || out != "one\ntwo\nthree\n" {
		t.Fatalf("exit %d, output %q", res.ExitCode, out)
	}
}

func testPipefail(t *testing.T, e executor.Executor) {
	res, out := run(t, e, context.Background(), executor.Step{Script: "false\necho after"})
	if res.ExitCode == 0 || strings.Contains(out, "after") {
		t.Errorf("errexit: exit %d, output %q", res.ExitCode, out)
	}
	if _, err := os.Stat("/bin/bash"); err == nil {
		res, _ = run(t, e, context.Background(), executor.Step{Script: "false | cat"})
		if res.ExitCode == 0 {
			t.Errorf("pipefail: a failing pipeline exited 0")
		}
	}
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

// Gone reports whether pid no longer runs (zombies count as gone).
func Gone(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return true
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// The state follows the parenthesised command name.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] == 'Z'
}

// WaitGone waits up to d for every pid to be gone.
func WaitGone(t *testing.T, d time.Duration, pids ...int) {
	t.Helper()
	deadline := time.Now().Add(d)
	for _, pid := range pids {
		for !Gone(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("process %d still running after %v", pid, d)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func testCancel(t *testing.T, e executor.Executor) {
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
	WaitGone(t, 2*time.Second, sh, bg)
}

func testForce(t *testing.T, e executor.Executor) {
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
	WaitGone(t, 2*time.Second, sh, bg)
}

func testLeftover(t *testing.T, e executor.Executor) {
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
	WaitGone(t, 2*time.Second, readPid(t, filepath.Join(dir, "bg.pid")))
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
func testEscaped(t *testing.T, e executor.Executor, script string) {
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
	if Gone(stray) {
		return
	}
	leftGroup(t, stray, readPid(t, filepath.Join(dir, "sh.pid")))
	WaitGone(t, 2*time.Second, stray)
}

func testCancelEscaped(t *testing.T, e executor.Executor) {
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
	WaitGone(t, 2*time.Second, sh, stray)
}

func testLargeOutput(t *testing.T, e executor.Executor) {
	var n countWriter
	res, err := e.Run(context.Background(), executor.Step{
		Name:   "large",
		Script: "head -c 20000000 /dev/zero",
		Env:    baseEnv(),
		Dir:    t.TempDir(),
		Output: &n,
	})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("Run: %v, %+v", err, res)
	}
	if n.n != 20000000 {
		t.Fatalf("got %d bytes, want 20000000", n.n)
	}
}

type countWriter struct{ n int }

func (c *countWriter) Write(p []byte) (int, error) { c.n += len(p); return len(p), nil }

func testConcurrent(t *testing.T, e executor.Executor) {
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := &buffer{}
			res, err := e.Run(context.Background(), executor.Step{
				Name:   fmt.Sprint("c", i),
				Script: `echo "$N"`,
				Env:    baseEnv(fmt.Sprint("N=", i)),
				Dir:    t.TempDir(),
				Output: out,
			})
			if err != nil || res.ExitCode != 0 || out.String() != fmt.Sprintln(i) {
				errs <- fmt.Errorf("step %d: err %v, res %+v, out %q", i, err, res, out.String())
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
