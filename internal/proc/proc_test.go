package proc

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// run starts sh -c script with s (Path and Args are set here) and waits.
func run(t *testing.T, ctx context.Context, s Spec, script string) Exit {
	t.Helper()
	s.Path, s.Args = "sh", []string{"-c", script}
	p, err := Start(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	e, err := p.Wait()
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestExitCodeAndSignal(t *testing.T) {
	ctx := context.Background()
	if e := run(t, ctx, Spec{}, "exit 0"); !e.Success() || e.Err() != nil || e.String() != "exit status 0" {
		t.Errorf("exit 0: %+v, %v", e, e.Err())
	}
	e := run(t, ctx, Spec{}, "exit 3")
	var ee *ExitError
	if e.Code != 3 || e.Signal != 0 || !errors.As(e.Err(), &ee) || ee.Code != 3 || e.Err().Error() != "exit status 3" {
		t.Errorf("exit 3: %+v, %v", e, e.Err())
	}
	e = run(t, ctx, Spec{}, "kill -TERM $$")
	if e.Code != -1 || e.Signal != syscall.SIGTERM || e.String() != "signal: terminated" {
		t.Errorf("killed by SIGTERM: %+v", e)
	}
	if e.Stopped {
		t.Error("a child that killed itself counts as stopped")
	}
}

func TestStartFailures(t *testing.T) {
	_, err := Start(context.Background(), Spec{Path: "velocity-no-such-program"})
	if err == nil || !strings.Contains(err.Error(), "velocity-no-such-program") {
		t.Errorf("missing program: %v", err)
	}
	_, err = Start(context.Background(), Spec{Path: "true", Dir: filepath.Join(t.TempDir(), "gone")})
	if err == nil {
		t.Error("a missing directory was accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Start(ctx, Spec{Path: "true"}); !errors.Is(err, context.Canceled) {
		t.Errorf("ended context: %v", err)
	}
}

func TestEnvAndDir(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	m, err := NewMarker("VELOCITY_TEST_MARK")
	if err != nil {
		t.Fatal(err)
	}
	run(t, context.Background(), Spec{
		Dir:    dir,
		Env:    []string{"A=1", "VELOCITY_TEST_MARK=stale"},
		Marker: m,
		Stdout: &out,
	}, `pwd; echo "A=$A"; echo "B=${B-unset}"; echo "$VELOCITY_TEST_MARK"`)
	real, _ := filepath.EvalSymlinks(dir)
	want := real + "\nA=1\nB=unset\n" + strings.TrimPrefix(m.Entry(), "VELOCITY_TEST_MARK=") + "\n"
	if out.String() != want {
		t.Errorf("output %q, want %q", out.String(), want)
	}

	// nil Env inherits ours.
	t.Setenv("VELOCITY_TEST_INHERITED", "yes")
	out.Reset()
	run(t, context.Background(), Spec{Stdout: &out}, `echo "$VELOCITY_TEST_INHERITED"`)
	if out.String() != "yes\n" {
		t.Errorf("inherited environment: %q", out.String())
	}
}

// One writer for stdout and stderr gets both in the order they were
// written; two writers get a stream each.
func TestOutputStreams(t *testing.T) {
	var both bytes.Buffer
	var script strings.Builder
	var want strings.Builder
	for i := range 50 {
		fd := 1 + i%2
		script.WriteString("echo " + strconv.Itoa(i) + " >&" + strconv.Itoa(fd) + "\n")
		want.WriteString(strconv.Itoa(i) + "\n")
	}
	run(t, context.Background(), Spec{Stdout: &both, Stderr: &both}, script.String())
	if both.String() != want.String() {
		t.Errorf("one stream:\n%s\nwant:\n%s", both.String(), want.String())
	}

	var out, errs bytes.Buffer
	run(t, context.Background(), Spec{Stdout: &out, Stderr: &errs}, "echo out; echo err >&2")
	if out.String() != "out\n" || errs.String() != "err\n" {
		t.Errorf("stdout %q, stderr %q", out.String(), errs.String())
	}

	var in bytes.Buffer
	run(t, context.Background(), Spec{Stdin: strings.NewReader("input\n"), Stdout: &in}, "cat")
	if in.String() != "input\n" {
		t.Errorf("stdin came back as %q", in.String())
	}

	// Without Stdin a child reads /dev/null, every child alike, and
	// cannot write to it.
	for range 2 {
		var none bytes.Buffer
		run(t, context.Background(), Spec{Stdout: &none}, "cat; readlink /proc/self/fd/0; echo x >&0 2>/dev/null || echo read-only")
		if none.String() != "/dev/null\nread-only\n" {
			t.Errorf("without stdin: %q", none.String())
		}
	}
}

type failingWriter struct{ n int }

func (w *failingWriter) Write(b []byte) (int, error) {
	w.n++
	return 0, errors.New("disk full")
}

// A writer that fails does not stop the child: it would block on a full
// pipe or die of SIGPIPE.
func TestFailingWriterDoesNotStopTheChild(t *testing.T) {
	w := &failingWriter{}
	e := run(t, context.Background(), Spec{Stdout: w}, "yes | head -c 1000000; echo done >&2; exit 4")
	if e.Code != 4 {
		t.Errorf("exit %+v, want code 4", e)
	}
	if w.n != 1 {
		t.Errorf("the failing writer was called %d times, want once", w.n)
	}
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	state, _, ok := Stat(pid)
	return ok && state != 'Z' && state != 'X'
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d is still running", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// readPids reads pids a child wrote to path, one per line, once n are there.
func readPids(t *testing.T, path string, n int) []int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		f := strings.Fields(string(b))
		if len(f) >= n && strings.HasSuffix(string(b), "\n") {
			var pids []int
			for _, s := range f {
				pid, err := strconv.Atoi(s)
				if err != nil {
					t.Fatal(err)
				}
				pids = append(pids, pid)
			}
			return pids
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %q, want %d pids", path, b, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// When the leader exits, what it left running dies with it: a background
// grandchild in the group, and one that left the group (setsid) but
// carries the marker. Neither holds Wait up, though both hold stdout.
func TestTreeDiesWithLeader(t *testing.T) {
	pids := filepath.Join(t.TempDir(), "pids")
	m, err := NewMarker("VELOCITY_TEST_MARK")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	start := time.Now()
	e := run(t, context.Background(), Spec{Group: true, Marker: m, Stdout: &out, DrainWait: 300 * time.Millisecond},
		// The second one writes its pid only once it is in a session of
		// its own: until then it would die with the group, not as a stray.
		`sleep 100 & echo $! > `+pids+`.1
setsid sh -c 'echo $$ > `+pids+`.2; exec sleep 100' &
while [ ! -s `+pids+`.2 ]; do sleep 0.01; done
cat `+pids+`.1 `+pids+`.2 > `+pids+`
echo hello`)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Wait took %s: a grandchild holding stdout held it up", d)
	}
	if e.Code != 0 || out.String() != "hello\n" {
		t.Errorf("exit %+v, output %q", e, out.String())
	}
	got := readPids(t, pids, 2)
	for _, pid := range got {
		waitGone(t, pid)
	}
	if e.Strays != 1 {
		t.Errorf("Strays = %d, want 1 (the setsid one)", e.Strays)
	}
}

// Without Group, a child is one process: what it started in the
// background is left alone, as with os/exec.
// A process that escaped everything (no group, no marker) and holds the
// one pipe of stdout and stderr open delays Wait by DrainWait at most;
// what the child wrote before it exited is delivered.
func TestDrainWaitBoundsAnEscapedHolderOfTheOutput(t *testing.T) {
	pid := filepath.Join(t.TempDir(), "pid")
	var both bytes.Buffer
	start := time.Now()
	e := run(t, context.Background(), Spec{Stdout: &both, Stderr: &both, DrainWait: 300 * time.Millisecond},
		`setsid sh -c 'echo $$ > `+pid+`.tmp; mv `+pid+`.tmp `+pid+`; exec sleep 100' &
while [ ! -s `+pid+` ]; do sleep 0.01; done
echo out; echo err >&2`)
	took := time.Since(start)
	if b, err := os.ReadFile(pid); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			unix.Kill(n, unix.SIGKILL)
		}
	}
	if took < 300*time.Millisecond || took > 3*time.Second {
		t.Errorf("Wait took %s, want the drain wait of 300ms and little more", took)
	}
	if e.Code != 0 || both.String() != "out\nerr\n" {
		t.Errorf("exit %+v, output %q", e, both.String())
	}
}

func TestSingleProcessLeavesOthersAlone(t *testing.T) {
	pids := filepath.Join(t.TempDir(), "pids")
	run(t, context.Background(), Spec{}, `sleep 100 >/dev/null 2>&1 & echo $! > `+pids)
	pid := readPids(t, pids, 1)[0]
	if !alive(pid) {
		t.Fatal("the background process of a single child was killed")
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

// Ending Start's context sends SIGTERM to the whole tree, and SIGKILL
// after the grace period to what ignores it.
func TestContextStopsTreeWithGrace(t *testing.T) {
	dir := t.TempDir()
	ready := filepath.Join(dir, "ready")
	for _, tc := range []struct {
		name     string
		script   string
		grace    time.Duration
		signal   syscall.Signal
		min, max time.Duration
	}{
		{"obeys SIGTERM", `sleep 100 & echo $! > ` + ready + `; wait`, 5 * time.Second, syscall.SIGTERM, 0, 3 * time.Second},
		{"ignores SIGTERM", `trap '' TERM; sleep 100 & echo $! > ` + ready + `; while :; do sleep 0.05; done`, 500 * time.Millisecond, syscall.SIGKILL, 500 * time.Millisecond, 4 * time.Second},
		{"no grace", `sleep 100 & echo $! > ` + ready + `; wait`, 0, syscall.SIGKILL, 0, 3 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(ready)
			ctx, cancel := context.WithCancel(context.Background())
			p, err := Start(ctx, Spec{Path: "sh", Args: []string{"-c", tc.script}, Group: true, KillGrace: tc.grace})
			if err != nil {
				t.Fatal(err)
			}
			child := readPids(t, ready, 1)[0]
			start := time.Now()
			cancel()
			e, err := p.Wait()
			if err != nil {
				t.Fatal(err)
			}
			d := time.Since(start)
			if !e.Stopped || e.Signal != tc.signal {
				t.Errorf("exit %+v, want stopped by %v", e, tc.signal)
			}
			if d < tc.min || d > tc.max {
				t.Errorf("stopping took %s, want %s to %s", d, tc.min, tc.max)
			}
			waitGone(t, child)
		})
	}
}

// Terminate with GraceForTree gives a server its grace period even after
// the shell that started it died of SIGTERM at once.
func TestTerminateWaitsForTree(t *testing.T) {
	dir := t.TempDir()
	ready, done := filepath.Join(dir, "ready"), filepath.Join(dir, "done")
	script := `sh -c 'trap "sleep 0.3; echo clean > ` + done + `; exit 0" TERM; echo ready > ` + ready + `; while :; do sleep 0.05; done' & wait`
	p, err := Start(context.Background(), Spec{Path: "sh", Args: []string{"-c", script}, Group: true, GraceForTree: true})
	if err != nil {
		t.Fatal(err)
	}
	readPids := func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			if _, err := os.Stat(ready); err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("the server did not start")
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	readPids()
	if !p.Terminate(context.Background(), 5*time.Second) {
		t.Error("Terminate killed a tree that exited within its grace period")
	}
	if _, err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(done); string(b) != "clean\n" {
		t.Errorf("the server did not finish its shutdown: %q", b)
	}

	// Terminate's context cuts the grace period short.
	p, err = Start(context.Background(), Spec{Path: "sh", Args: []string{"-c", `trap '' TERM; while :; do sleep 0.05; done`}, Group: true, GraceForTree: true})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if p.Terminate(ctx, time.Minute) {
		t.Error("Terminate says a process that ignores SIGTERM exited in time")
	}
	e, err := p.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second || e.Signal != syscall.SIGKILL {
		t.Errorf("cut short after %s: %+v", d, e)
	}
}

// A signal sent after Wait is dropped: the pid may belong to someone else.
func TestSignalAfterWait(t *testing.T) {
	p, err := Start(context.Background(), Spec{Path: "true", Group: true})
	if err != nil {
		t.Fatal(err)
	}
	<-p.Exited()
	if _, err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	if err := p.Signal(syscall.SIGKILL); !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("Signal after Wait: %v", err)
	}
}

// watchdog records what it is told, in order.
type watchdog struct {
	mu    sync.Mutex
	calls []string
}

func (w *watchdog) note(s string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls = append(w.calls, s)
}
func (w *watchdog) Add(pgid int)                 { w.note("add " + strconv.Itoa(pgid)) }
func (w *watchdog) Remove(pgid int)              { w.note("remove " + strconv.Itoa(pgid)) }
func (w *watchdog) AddMarker(entry string) error { w.note("mark " + entry); return nil }
func (w *watchdog) RemoveMarker(entry string)    { w.note("unmark " + entry) }

// The watchdog learns the marker before the start (a crash right after it
// must find processes that already left the group), the group after it,
// and forgets both once they are gone.
func TestWatchdogRegistration(t *testing.T) {
	m, err := NewMarker("VELOCITY_TEST_MARK")
	if err != nil {
		t.Fatal(err)
	}
	w := &watchdog{}
	p, err := Start(context.Background(), Spec{Path: "true", Group: true, Marker: m, Watchdog: w})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	pg := strconv.Itoa(p.Pid())
	want := []string{"mark " + m.Entry(), "add " + pg, "remove " + pg, "unmark " + m.Entry()}
	if !slices.Equal(w.calls, want) {
		t.Errorf("watchdog calls %q, want %q", w.calls, want)
	}

	// A failed start unregisters the marker.
	w = &watchdog{}
	if _, err := Start(context.Background(), Spec{Path: "/nonexistent/program", Group: true, Marker: m, Watchdog: w}); err == nil {
		t.Fatal("started a missing program")
	}
	if want := []string{"mark " + m.Entry(), "unmark " + m.Entry()}; !slices.Equal(w.calls, want) {
		t.Errorf("watchdog calls %q, want %q", w.calls, want)
	}
}

// Spec.Cgroup moves the child into the group as it starts; a group that
// cannot be joined kills it.
func TestCgroup(t *testing.T) {
	dir := t.TempDir()
	p, err := Start(context.Background(), Spec{Path: "true", Group: true, Cgroup: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs")); string(b) != strconv.Itoa(p.Pid()) {
		t.Errorf("cgroup.procs = %q, want %d", b, p.Pid())
	}
	_, err = Start(context.Background(), Spec{Path: "sleep", Args: []string{"100"}, Group: true, Cgroup: filepath.Join(dir, "missing")})
	if !errors.Is(err, ErrLimits) || !strings.HasPrefix(err.Error(), "limits: cgroup: ") {
		t.Errorf("unjoinable cgroup: %v", err)
	}
}

func TestExitUsage(t *testing.T) {
	e := run(t, context.Background(), Spec{}, "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done")
	if e.CPU <= 0 || e.MaxRSS <= 0 {
		t.Errorf("CPU %s, MaxRSS %d: want both positive", e.CPU, e.MaxRSS)
	}
}

// Session puts the child in a session and group of its own, away from
// Velocity's terminal; Group alone keeps Velocity's session.
func TestSessionAndGroup(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		s                    Spec
		ownSession, ownGroup bool
	}{
		{"plain", Spec{}, false, false},
		{"group", Spec{Group: true}, false, true},
		{"session", Spec{Session: true}, true, true},
		{"session and group", Spec{Session: true, Group: true}, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.s.Path, tc.s.Args = "sleep", []string{"100"}
			p, err := Start(context.Background(), tc.s)
			if err != nil {
				t.Fatal(err)
			}
			sid, _ := unix.Getsid(p.Pid())
			_, pgrp, _ := Stat(p.Pid())
			_ = p.Signal(syscall.SIGKILL)
			if _, err := p.Wait(); err != nil {
				t.Fatal(err)
			}
			if got := sid == p.Pid(); got != tc.ownSession {
				t.Errorf("own session: %v, want %v", got, tc.ownSession)
			}
			if got := pgrp == p.Pid(); got != tc.ownGroup {
				t.Errorf("own group: %v, want %v", got, tc.ownGroup)
			}
		})
	}
}

// TestHeadKeepsTheStart: a chatty child's stderr is cut at the limit,
// and the writer never fails the child's copy loop.
func TestHeadKeepsTheStart(t *testing.T) {
	h := Head{Limit: 5}
	for _, s := range []string{"abc", "defgh", "ij"} {
		if n, err := h.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	if h.String() != "abcde" {
		t.Errorf("kept %q, want %q", h.String(), "abcde")
	}
	if code := ExitCode(&ExitError{Exit{Code: 3}}); code != 3 {
		t.Errorf("ExitCode = %d, want 3", code)
	}
	if code := ExitCode(errors.New("not started")); code != -1 {
		t.Errorf("ExitCode of another error = %d, want -1", code)
	}
}
