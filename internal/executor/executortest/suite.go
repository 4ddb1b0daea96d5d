// Package executortest is the conformance suite every executor.Executor
// implementation runs from its own tests.
//
// The suite only checks what a user of a pipeline can see: exit codes,
// output and its order, the environment, the working directory, files in
// and out, timeouts and cancellation, and that nothing a step started
// outlives it. It observes the last from inside a later step of the same
// run (a background job's heartbeat file stops growing), never through
// host pids, so a container or Kubernetes executor runs it unchanged.
// Steps need a POSIX shell with the usual tools (sh, sleep, cat, wc, head,
// setsid) in PATH=/usr/local/bin:/usr/bin:/bin.
package executortest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/executor"
)

// Options configure the suite for one executor.
type Options struct {
	// New makes the executor under test; it registers its own clean-up
	// with t.Cleanup.
	New func(t *testing.T) executor.Executor
	// Image is an image with sh and the usual tools, for the cases that
	// name one; empty skips them. Only used when the executor says it
	// supports images.
	Image string
}

// Run runs the suite against the executor made by newExecutor.
func Run(t *testing.T, newExecutor func(t *testing.T) executor.Executor) {
	RunWith(t, Options{New: newExecutor})
}

// RunWith runs the suite with opt.
func RunWith(t *testing.T, opt Options) {
	cases := []struct {
		name string
		fn   func(t *testing.T, s *suite)
	}{
		{"ExitCodes", testExitCodes},
		{"CommandRunsWithoutShell", testCommand},
		{"EnvironmentIsExactlyTheStepEnv", testEnv},
		{"ScriptIsNotInterpolated", testNoInterpolation},
		{"WorkingDirectory", testDir},
		{"StepsShareTheWorkspace", testShared},
		{"CombinedOutputInOrder", testOutput},
		{"PipefailAndErrexit", testPipefail},
		{"FilesInAndOut", testFiles},
		{"Timeout", testTimeout},
		{"CancelKillsWholeTree", testCancel},
		{"CancelForcesAfterGrace", testForce},
		{"LeftoverBackgroundProcessIsKilled", func(t *testing.T, s *suite) { testLeftover(t, s, backgroundTicker) }},
		{"SetsidLeftoverIsKilled", func(t *testing.T, s *suite) { testLeftover(t, s, setsidTicker) }},
		{"DoubleForkLeftoverIsKilled", func(t *testing.T, s *suite) { testLeftover(t, s, doubleForkTicker) }},
		{"SetsidLeftoverHoldingOutputIsKilled", func(t *testing.T, s *suite) { testLeftover(t, s, setsidHoldingOutputTicker) }},
		{"CancelKillsSetsidProcesses", testCancelEscaped},
		{"LargeOutput", testLargeOutput},
		{"Concurrent", testConcurrent},
		{"Image", testImage},
		{"Limits", testLimits},
		{"RunAfterCleanupFails", testAfterCleanup},
		{"RunsAreIndependent", testIndependentRuns},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.fn(t, &suite{opt: opt, e: opt.New(t)})
		})
	}
}

type suite struct {
	opt Options
	e   executor.Executor
}

// prepare prepares a run in a fresh workspace and cleans it up with the
// test.
func (s *suite) prepare(t *testing.T) (executor.Workspace, string) {
	t.Helper()
	dir := t.TempDir()
	id := fmt.Sprintf("suite-%d", time.Now().UnixNano())
	ws, err := s.e.Prepare(context.Background(), executor.Run{ID: id, Dir: dir})
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	t.Cleanup(func() {
		if err := ws.Cleanup(context.Background()); err != nil {
			t.Errorf("Cleanup: %v", err)
		}
	})
	return ws, dir
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

// waitFor waits until the output contains want.
func (b *buffer) waitFor(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(b.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("output never said %q: %q", want, b.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// baseEnv is the environment steps get in the suite: enough to find the
// usual tools, nothing else.
func baseEnv(extra ...string) []string {
	return append([]string{"PATH=/usr/local/bin:/usr/bin:/bin"}, extra...)
}

// run runs s in ws with the suite's defaults and its output captured.
func run(t *testing.T, ws executor.Workspace, dir string, ctx context.Context, s executor.Step) (executor.Result, string) {
	t.Helper()
	out := &buffer{}
	s.Output = out
	if s.Env == nil {
		s.Env = baseEnv()
	}
	if s.Dir == "" {
		s.Dir = dir
	}
	if s.Name == "" {
		s.Name = t.Name()
	}
	res, err := ws.Run(ctx, s)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res, out.String()
}

func testExitCodes(t *testing.T, s *suite) {
	ws, dir := s.prepare(t)
	for _, tc := range []struct {
		script string
		want   int
	}{
		{"true", 0},
		{"exit 3", 3},
		{"no-such-command-velocity", 127},
	} {
		res, out := run(t, ws, dir, context.Background(), executor.Step{Script: tc.script})
		if res.ExitCode != tc.want {
			t.Errorf("%q: exit %d, want %d (output %q)", tc.script, res.ExitCode, tc.want, out)
		}
		if res.Stopped || res.Signal != "" {
			t.Errorf("%q: Stopped or Signal set without cancellation: %+v", tc.script, res)
		}
	}
}

func testCommand(t *testing.T, s *suite) {
	ws, dir := s.prepare(t)
	res, out := run(t, ws, dir, context.Background(), executor.Step{
		Command: []string{"printf", "%s|%s\n", "$HOME; `id`", "it's"},
	})
	if res.ExitCode != 0 || out != "$HOME; `id`|it's\n" {
		t.Errorf("exit %d, output %q: arguments must reach the program as they are", res.ExitCode, out)
	}
	res, _ = run(t, ws, dir, context.Background(), executor.Step{Command: []string{"sh", "-c", "exit 4"}})
	if res.ExitCode != 4 {
		t.Errorf("exit %d, want the program's 4", res.ExitCode)
	}
	res, _ = run(t, ws, dir, context.Background(), executor.Step{Command: []string{"no-such-command-velocity"}})
	if res.ExitCode != 127 {
		t.Errorf("missing program: exit %d, want 127", res.ExitCode)
	}
}

func testEnv(t *testing.T, s *suite) {
	t.Setenv("VELOCITY_SUITE_LEAK", "leaked")
	ws, dir := s.prepare(t)
	res, out := run(t, ws, dir, context.Background(), executor.Step{
		Script: `echo "foo=$FOO"; echo "leak=${VELOCITY_SUITE_LEAK-unset}"`,
		Env:    baseEnv("FOO=a b;c"),
	})
	if res.ExitCode != 0 || out != "foo=a b;c\nleak=unset\n" {
		t.Fatalf("exit %d, output %q", res.ExitCode, out)
	}
}

func testNoInterpolation(t *testing.T, s *suite) {
	ws, dir := s.prepare(t)
	// A value an attacker controls, such as a branch name, is only ever an
	// environment variable; the script quotes it and it stays text.
	res, out := run(t, ws, dir, context.Background(), executor.Step{
		Script: `printf '%s\n' "$BRANCH"`,
		Env:    baseEnv("BRANCH=$(touch pwned); `id`"),
	})
	if res.ExitCode != 0 || out != "$(touch pwned); `id`\n" {
		t.Fatalf("exit %d, output %q", res.ExitCode, out)
	}
}

func testDir(t *testing.T, s *suite) {
	ws, dir := s.prepare(t)
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "marker"), []byte("here\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, out := run(t, ws, dir, context.Background(), executor.Step{Script: "cat marker", Dir: sub})
	if res.ExitCode != 0 || out != "here\n" {
		t.Fatalf("exit %d, output %q", res.ExitCode, out)
	}
	res, _ = run(t, ws, dir, context.Background(), executor.Step{Script: "echo made > made"})
	if b, err := os.ReadFile(filepath.Join(dir, "made")); res.ExitCode != 0 || string(b) != "made\n" {
		t.Fatalf("exit %d; a file the step wrote is not in the workspace: %q, %v", res.ExitCode, b, err)
	}
}

func testShared(t *testing.T, s *suite) {
	ws, dir := s.prepare(t)
	run(t, ws, dir, context.Background(), executor.Step{Script: "echo from-first > handed"})
	res, out := run(t, ws, dir, context.Background(), executor.Step{Script: "cat handed"})
	if res.ExitCode != 0 || out != "from-first\n" {
		t.Fatalf("a later step does not see what an earlier one wrote: exit %d, output %q", res.ExitCode, out)
	}
}

func testOutput(t *testing.T, s *suite) {
	ws, dir := s.prepare(t)
	res, out := run(t, ws, dir, context.Background(), executor.Step{Script: "echo one; echo two >&2; echo three; echo four >&2"})
	if res.ExitCode != 0 || out != "one\ntwo\nthree\nfour\n" {
		t.Fatalf("exit %d, output %q", res.ExitCode, out)
	}
	// Output may be discarded.
	if res, err := ws.Run(context.Background(), executor.Step{Name: "quiet", Script: "echo ignored", Env: baseEnv(), Dir: dir}); err != nil || res.ExitCode != 0 {
		t.Fatalf("nil Output: %v, %+v", err, res)
	}
}

func testPipefail(t *testing.T, s *suite) {
	ws, dir := s.prepare(t)
	res, out := run(t, ws, dir, context.Background(), executor.Step{Script: "false\necho after"})
	if res.ExitCode == 0 || strings.Contains(out, "after") {
		t.Errorf("errexit: exit %d, output %q", res.ExitCode, out)
	}
	// pipefail is promised where the shell is bash.
	_, bash := run(t, ws, dir, context.Background(), executor.Step{Script: `echo "${BASH_VERSION-}"`})
	if strings.TrimSpace(bash) != "" {
		res, _ = run(t, ws, dir, context.Background(), executor.Step{Script: "false | cat"})
		if res.ExitCode == 0 {
			t.Errorf("pipefail: a failing pipeline exited 0")
		}
	}
}

func testFiles(t *testing.T, s *suite) {
	ws, dir := s.prepare(t)
	host := t.TempDir()
	in := filepath.Join(host, "in.txt")
	if err := os.WriteFile(in, []byte("handed in\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	report, missing := filepath.Join(host, "report.txt"), filepath.Join(host, "missing.txt")
	res, out := run(t, ws, dir, context.Background(), executor.Step{
		Script:   "cat conf/in.txt; mkdir -p out; echo failing report > out/report.txt; exit 2",
		FilesIn:  []executor.File{{Path: "conf/in.txt", Host: in}},
		FilesOut: []executor.File{{Path: "out/report.txt", Host: report}, {Path: "never.txt", Host: missing}},
	})
	if res.ExitCode != 2 || out != "handed in\n" {
		t.Fatalf("exit %d, output %q", res.ExitCode, out)
	}
	b, err := os.ReadFile(report)
	if err != nil || string(b) != "failing report\n" {
		t.Errorf("file out of a failing step: %q, %v", b, err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a file the step never wrote was created on the host: %v", err)
	}
	if len(res.Missing) != 1 || res.Missing[0] != "never.txt" {
		t.Errorf("Missing = %q, want [never.txt]", res.Missing)
	}
	// A path leaving the working directory is refused, not followed.
	_, err = ws.Run(context.Background(), executor.Step{
		Name: "escape", Script: "true", Env: baseEnv(), Dir: dir,
		FilesOut: []executor.File{{Path: "../../etc/passwd", Host: filepath.Join(host, "x")}},
	})
	if err == nil {
		t.Errorf("a file path outside the working directory was accepted")
	}
}

func testTimeout(t *testing.T, s *suite) {
	ws, dir := s.prepare(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	res, _ := run(t, ws, dir, ctx, executor.Step{Script: "sleep 100", KillGrace: 5 * time.Second})
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("a step past its deadline ran %v", took)
	}
	if !res.Stopped || res.ExitCode == 0 {
		t.Errorf("result %+v, want Stopped and a failing exit", res)
	}
}

// Heartbeats: a process appends a line to ticks every 20 ms, the shape of
// a server a test script started and forgot. The script waits for the
// first beat so that the process surely runs when the step ends.
const (
	beat             = `while :; do echo x >> ticks; sleep 0.02; done`
	waitBeat         = "while [ ! -s ticks ]; do sleep 0.01; done\n"
	backgroundTicker = "( " + beat + " ) &\n" + waitBeat
	// Leaves the step's process group and session.
	setsidTicker = "setsid sh -c '" + beat + "' </dev/null >/dev/null 2>&1 &\n" + waitBeat
	// Leaves them and is re-parented away from the step's shell.
	doubleForkTicker = "( setsid sh -c '" + beat + "' </dev/null >/dev/null 2>&1 & ) &\n" + waitBeat
	// Also keeps the step's output open: Run must not wait for it.
	setsidHoldingOutputTicker = "setsid sh -c '" + beat + "' &\n" + waitBeat
)

// assertStill fails the test unless the heartbeat in dir has stopped: a
// later step of the same run sees the ticks file keep its size.
func assertStill(t *testing.T, ws executor.Workspace, dir string) {
	t.Helper()
	res, out := run(t, ws, dir, context.Background(), executor.Step{
		Name:   "observer",
		Script: "a=$(wc -l < ticks); sleep 0.3; b=$(wc -l < ticks); echo $a $b",
	})
	f := strings.Fields(out)
	if res.ExitCode != 0 || len(f) != 2 {
		t.Fatalf("observer: exit %d, output %q", res.ExitCode, out)
	}
	if f[0] != f[1] {
		t.Fatalf("a process the step started still runs after the step ended: ticks grew from %s to %s", f[0], f[1])
	}
}

// runUntilStarted starts script in the background and returns once it
// printed "started", with the channel its result arrives on.
func runUntilStarted(t *testing.T, ws executor.Workspace, dir string, ctx context.Context, script string, grace time.Duration) <-chan executor.Result {
	t.Helper()
	out := &buffer{}
	done := make(chan executor.Result, 1)
	go func() {
		res, err := ws.Run(ctx, executor.Step{
			Name: "stopped", Env: baseEnv(), Dir: dir, Output: out, KillGrace: grace,
			Script: script,
		})
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		done <- res
	}()
	out.waitFor(t, "started")
	return done
}

func await(t *testing.T, done <-chan executor.Result, why string) executor.Result {
	t.Helper()
	select {
	case res := <-done:
		return res
	case <-time.After(10 * time.Second):
		t.Fatal(why)
		return executor.Result{}
	}
}

func testCancel(t *testing.T, s *suite) {
	ws, dir := s.prepare(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := runUntilStarted(t, ws, dir, ctx, backgroundTicker+"echo started\nsleep 100\n", 5*time.Second)
	start := time.Now()
	cancel()
	res := await(t, done, "Run did not return after cancel")
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("cancel took %v; SIGTERM should end sleep at once", took)
	}
	if !res.Stopped || res.ExitCode == 0 {
		t.Errorf("result %+v, want Stopped and a failing exit", res)
	}
	assertStill(t, ws, dir)
}

func testForce(t *testing.T, s *suite) {
	ws, dir := s.prepare(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := runUntilStarted(t, ws, dir, ctx, "trap '' TERM\n"+backgroundTicker+"echo started\nwhile :; do sleep 0.05; done\n", 300*time.Millisecond)
	start := time.Now()
	cancel()
	res := await(t, done, "Run did not return: a step ignoring SIGTERM must be killed after the grace period")
	if took := time.Since(start); took < 250*time.Millisecond {
		t.Errorf("killed after %v, before the grace period", took)
	}
	if res.Signal == "" || !res.Stopped {
		t.Errorf("result %+v: want Stopped and the killing signal named", res)
	}
	assertStill(t, ws, dir)
}

// A process the step left behind, in its process group or moved out of
// it (setsid, a double fork), is killed when the step ends, and Run does
// not wait for it even when it holds the output open.
func testLeftover(t *testing.T, s *suite, script string) {
	ws, dir := s.prepare(t)
	start := time.Now()
	res, out := run(t, ws, dir, context.Background(), executor.Step{Script: script + "echo done\n"})
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Run took %v: it must not wait for a process holding the output open", took)
	}
	if res.ExitCode != 0 || out != "done\n" {
		t.Fatalf("exit %d, output %q", res.ExitCode, out)
	}
	assertStill(t, ws, dir)
}

func testCancelEscaped(t *testing.T, s *suite) {
	ws, dir := s.prepare(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := runUntilStarted(t, ws, dir, ctx, setsidTicker+"echo started\nsleep 100\n", 5*time.Second)
	cancel()
	if res := await(t, done, "Run did not return after cancel"); !res.Stopped {
		t.Errorf("result %+v, want Stopped", res)
	}
	assertStill(t, ws, dir)
}

func testLargeOutput(t *testing.T, s *suite) {
	ws, dir := s.prepare(t)
	var n countWriter
	res, err := ws.Run(context.Background(), executor.Step{
		Name:   "large",
		Script: "head -c 20000000 /dev/zero",
		Env:    baseEnv(),
		Dir:    dir,
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

func testConcurrent(t *testing.T, s *suite) {
	ws, dir := s.prepare(t)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Go(func() {
			out := &buffer{}
			res, err := ws.Run(context.Background(), executor.Step{
				Name:   fmt.Sprint("c", i),
				Script: `echo "$N"`,
				Env:    baseEnv(fmt.Sprint("N=", i)),
				Dir:    dir,
				Output: out,
			})
			if err != nil || res.ExitCode != 0 || out.String() != fmt.Sprintln(i) {
				errs <- fmt.Errorf("step %d: err %v, res %+v, out %q", i, err, res, out.String())
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// An executor runs a step in the image it names, or refuses it: running
// it somewhere else would pass a build that fails in the image.
func testImage(t *testing.T, s *suite) {
	ws, dir := s.prepare(t)
	if !s.e.Capabilities().Image {
		_, err := ws.Run(context.Background(), executor.Step{Name: "imaged", Script: "true", Env: baseEnv(), Dir: dir, Image: "alpine:3"})
		if !errors.Is(err, executor.ErrUnsupported) || !strings.Contains(err.Error(), "alpine:3") {
			t.Fatalf("a step naming an image on an executor without image support: err %v, want ErrUnsupported naming the image", err)
		}
		t.Skip("the executor has no image support (Capabilities.Image is false); the step was refused as it must be")
	}
	if s.opt.Image == "" {
		t.Skip("no image given to the suite (Options.Image)")
	}
	res, out := run(t, ws, dir, context.Background(), executor.Step{Script: "echo in-image > seen; cat seen", Image: s.opt.Image})
	if res.ExitCode != 0 || out != "in-image\n" {
		t.Fatalf("exit %d, output %q", res.ExitCode, out)
	}
}

// Limits are enforced or refused, never ignored.
func testLimits(t *testing.T, s *suite) {
	ws, dir := s.prepare(t)
	limits := executor.Limits{Memory: 64 << 20, CPU: 0.5}
	if !s.e.Capabilities().Limits {
		_, err := ws.Run(context.Background(), executor.Step{Name: "limited", Script: "true", Env: baseEnv(), Dir: dir, Limits: limits})
		if !errors.Is(err, executor.ErrUnsupported) {
			t.Fatalf("a step with limits on an executor that cannot enforce them: err %v, want ErrUnsupported", err)
		}
		t.Skip("the executor does not enforce limits (Capabilities.Limits is false); the step was refused as it must be")
	}
	// 256 MiB held in memory by a 64 MiB step ends it.
	res, _ := run(t, ws, dir, context.Background(), executor.Step{
		Script: "head -c 268435456 /dev/zero | tail -c 268435456 > /dev/null",
		Image:  s.opt.Image,
		Limits: limits,
	})
	if res.ExitCode == 0 {
		t.Fatalf("a step over its memory limit succeeded: %+v", res)
	}
}

func testAfterCleanup(t *testing.T, s *suite) {
	dir := t.TempDir()
	ws, err := s.e.Prepare(context.Background(), executor.Run{ID: "suite-cleaned", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.Cleanup(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := ws.Run(context.Background(), executor.Step{Name: "late", Script: "true", Env: baseEnv(), Dir: dir}); err == nil {
		t.Fatal("Run after Cleanup succeeded")
	}
}

// Two runs prepared at once have their own workspaces, and cleaning one
// up leaves the other running.
func testIndependentRuns(t *testing.T, s *suite) {
	adir := t.TempDir()
	a, err := s.e.Prepare(context.Background(), executor.Run{ID: "suite-a", Dir: adir})
	if err != nil {
		t.Fatal(err)
	}
	b, bdir := s.prepare(t)
	run(t, a, adir, context.Background(), executor.Step{Script: "echo a > who"})
	run(t, b, bdir, context.Background(), executor.Step{Script: "echo b > who"})
	if err := a.Cleanup(context.Background()); err != nil {
		t.Fatal(err)
	}
	res, out := run(t, b, bdir, context.Background(), executor.Step{Script: "cat who"})
	if res.ExitCode != 0 || out != "b\n" {
		t.Fatalf("exit %d, output %q", res.ExitCode, out)
	}
}
