package proc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultDrainWait applies when Spec.DrainWait is zero.
const DefaultDrainWait = 2 * time.Second

// treePoll is how often Terminate looks for processes of a tree still
// shutting down after its leader has exited (Spec.GraceForTree).
const treePoll = 25 * time.Millisecond

// devNull is /dev/null opened once for the children's stdin: os/exec
// would open and close it for every child that reads nothing (every
// action), two system calls and a file each time. Nil if it cannot be
// opened; os/exec then tries itself.
var devNull = sync.OnceValue(func() *os.File {
	f, err := os.Open(os.DevNull)
	if err != nil {
		return nil
	}
	return f
})

// stdin is what a child reads: r, or /dev/null when r is nil.
func stdin(r io.Reader) io.Reader {
	if r != nil {
		return r
	}
	if f := devNull(); f != nil {
		return f
	}
	return nil
}

// ErrLimits marks a failure to put the process under its resource limits;
// the process was killed rather than left running unlimited.
var ErrLimits = errors.New("limits")

// Watchdog kills registered process groups, and the processes carrying a
// registered marker, if Velocity dies (reaper.Reaper). Start registers;
// Wait unregisters.
type Watchdog interface {
	Add(pgid int)
	Remove(pgid int)
	AddMarker(entry string) error
	RemoveMarker(entry string)
}

// Spec says what to start and how. The zero value of every field but Path
// works: no arguments, Velocity's directory and environment, no input,
// output discarded, a single child killed at once when ctx ends.
type Spec struct {
	// Path is the program: a path, or a name looked up in PATH. The child
	// sees it as its argv[0].
	Path string
	// Args are the arguments after the program name.
	Args []string
	// Dir is the working directory; empty: Velocity's.
	Dir string
	// Env is the complete environment; nil inherits Velocity's.
	Env []string

	// Stdin is read by the child; nil: /dev/null.
	Stdin io.Reader
	// ExtraFiles are inherited by the child as descriptors 3, 4, …
	ExtraFiles []*os.File
	// Stdout and Stderr receive the child's output; nil discards it. An
	// *os.File is handed to the child itself (it keeps writing after
	// Velocity is gone); other writers are fed from a pipe. The same
	// writer for both gets one pipe, so the order of the lines holds.
	Stdout, Stderr io.Writer

	// Group starts the child in a process group of its own and manages
	// it as a tree (see the package documentation).
	Group bool
	// Session starts the child in a new session, away from Velocity's
	// terminal and its signals, for a process meant to outlive Velocity.
	// The child then leads its own group too; only with Group is that
	// group managed as a tree.
	Session bool
	// DieWithParent has the kernel kill the child (SIGKILL) when Velocity
	// dies, before the watchdog has even learnt of it. The kernel ties
	// this to the thread that started the child; Go ends threads only
	// for goroutines that locked them, which this package never does.
	DieWithParent bool

	// Marker is added to the child's environment (replacing any value of
	// its variable) and so inherited by everything it starts: with Group,
	// signals and the final kill reach the marked processes that left the
	// group.
	Marker *Marker
	// Watchdog, with Group, learns the marker before the start and the
	// group right after it, and forgets both in Wait. Registration errors
	// are not fatal: the process runs, it is only less well cleaned up
	// after a crash.
	Watchdog Watchdog

	// KillGrace is how long the tree has between SIGTERM and SIGKILL when
	// Start's context ends; zero: SIGKILL at once.
	KillGrace time.Duration
	// GraceForTree makes a stop wait for every process of the group and
	// every marked one, not only the leader, before the grace period
	// ends: a shell often dies of SIGTERM at once while the server it
	// started is still shutting down gracefully.
	GraceForTree bool

	// Cgroup is the directory of a cgroup v2 group the child is moved
	// into right after the start (resource limits). If that fails the
	// child is killed and Start returns an error wrapping ErrLimits.
	Cgroup string

	// DrainWait bounds how long output is read once the child (and with
	// Group its group) is gone; zero: DefaultDrainWait.
	DrainWait time.Duration
}

// Process is a started child. See the package documentation for which
// methods may be called when.
type Process struct {
	cmd   *exec.Cmd
	pid   int
	group bool
	// graceForTree: Spec.GraceForTree with Spec.Group.
	graceForTree bool
	marker       *Marker
	watchdog     Watchdog
	drain        time.Duration
	// out is the pipe of the child's output when proc made it; nil when
	// os/exec did (or the output goes to a file or nowhere).
	out *outputPipe

	exited  chan struct{} // closed when the child exited, not reaped yet
	waitErr error         // from waitid; read after exited
	ended   time.Time     // read after exited

	stopCtx func() bool   // unregisters the stop on Start's context
	ctxDone chan struct{} // closed when that stop has finished
	stopped atomic.Bool   // Start's context ended before the child exited

	mu     sync.Mutex // serialises signals and marker scans against the reap
	reaped bool
}

// Start starts the child described by s. When ctx ends before the child
// exits, the tree is stopped: SIGTERM, then SIGKILL after s.KillGrace.
// Wait must be called to release the child.
func Start(ctx context.Context, s Spec) (*Process, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	path := s.Path
	if !strings.Contains(path, "/") {
		lp, err := exec.LookPath(path)
		if err != nil {
			return nil, err
		}
		path = lp
	}
	drain := s.DrainWait
	if drain <= 0 {
		drain = DefaultDrainWait
	}
	cmd := &exec.Cmd{
		Path:       path,
		Args:       append([]string{s.Path}, s.Args...),
		Dir:        s.Dir,
		Env:        s.Env,
		Stdin:      stdin(s.Stdin),
		ExtraFiles: s.ExtraFiles,
		// Once the child has exited (and its group was killed), a process
		// that escaped may still hold a pipe: Wait then closes our ends.
		WaitDelay: drain,
		SysProcAttr: &syscall.SysProcAttr{
			// setpgid fails for a session leader, which leads its group anyway.
			Setpgid: s.Group && !s.Session,
			Setsid:  s.Session,
		},
	}
	if s.DieWithParent {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	if s.Marker != nil {
		if cmd.Env == nil {
			cmd.Env = os.Environ()
		}
		cmd.Env = withEntry(cmd.Env, s.Marker.Entry())
	}
	cmd.Stdout, cmd.Stderr = outputs(s.Stdout, s.Stderr)
	var out *outputPipe
	if w := cmd.Stdout; w != nil && sameWriter(w, cmd.Stderr) {
		if _, isFile := w.(*os.File); !isFile {
			var err error
			if out, err = newOutputPipe(w); err != nil {
				return nil, err
			}
			cmd.Stdout, cmd.Stderr = out.w, out.w
		}
	}

	var watchdog Watchdog
	if s.Group {
		watchdog = s.Watchdog
	}
	// Registered before the start: a crash right after it must find the
	// processes that already left the group.
	if watchdog != nil && s.Marker != nil {
		_ = watchdog.AddMarker(s.Marker.Entry())
	}
	if err := cmd.Start(); err != nil {
		if watchdog != nil && s.Marker != nil {
			watchdog.RemoveMarker(s.Marker.Entry())
		}
		if out != nil {
			out.abort()
		}
		return nil, err
	}
	if out != nil {
		out.started()
	}
	p := &Process{
		cmd:          cmd,
		pid:          cmd.Process.Pid,
		group:        s.Group,
		graceForTree: s.Group && s.GraceForTree,
		marker:       s.Marker,
		watchdog:     watchdog,
		drain:        drain,
		out:          out,
		exited:       make(chan struct{}),
	}
	if p.marker != nil {
		p.marker.Started(p.pid)
	}
	go func() {
		p.waitErr = waitExit(p.pid)
		p.ended = time.Now()
		close(p.exited)
	}()
	if watchdog != nil {
		watchdog.Add(p.pid)
	}
	if s.Cgroup != "" {
		if err := joinCgroup(s.Cgroup, p.pid); err != nil {
			// Unlimited is not what was asked for: do not let it run.
			_ = p.Signal(syscall.SIGKILL)
			_, _ = p.Wait()
			return nil, fmt.Errorf("%w: %w", ErrLimits, err)
		}
	}
	if ctx.Done() != nil {
		p.ctxDone = make(chan struct{})
		grace := s.KillGrace
		p.stopCtx = context.AfterFunc(ctx, func() {
			defer close(p.ctxDone)
			select {
			case <-p.exited:
				return // ended on its own: not a stop
			default:
			}
			p.stopped.Store(true)
			p.Terminate(context.Background(), grace)
		})
	}
	return p, nil
}

// Pid is the child's process id, which with Spec.Group is also its
// process group id.
func (p *Process) Pid() int { return p.pid }

// Exited is closed when the child has exited. With Spec.Group the rest of
// its tree may still run until Wait.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Signal sends sig to the child (with Spec.Group, to its whole group) and
// to the marked processes outside it. After Wait it does nothing and
// returns os.ErrProcessDone.
func (p *Process) Signal(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reaped {
		return os.ErrProcessDone
	}
	target, skip := p.pid, 0
	if p.group {
		target, skip = -p.pid, p.pid
	}
	err := unix.Kill(target, sig)
	if p.marker != nil {
		p.marker.Signal(sig, skip)
	}
	return err
}

// Terminate stops the tree: SIGTERM, then SIGKILL once grace has passed or
// ctx has ended, whichever comes first. It returns true when the child
// exited within the grace period (with Spec.GraceForTree: the whole tree),
// false when it had to be killed. Wait still has to be called.
func (p *Process) Terminate(ctx context.Context, grace time.Duration) bool {
	if grace <= 0 {
		_ = p.Signal(syscall.SIGKILL)
		return false
	}
	_ = p.Signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	if p.waitGone(ctx, t.C, p.graceForTree) {
		return true
	}
	_ = p.Signal(syscall.SIGKILL)
	return false
}

// waitGone waits until the child, and with wholeTree every process of its
// group and every marked one, has exited; false when giveUp or ctx came
// first.
func (p *Process) waitGone(ctx context.Context, giveUp <-chan time.Time, wholeTree bool) bool {
	select {
	case <-p.exited:
	case <-giveUp:
		return false
	case <-ctx.Done():
		return false
	}
	if !wholeTree {
		return true
	}
	tick := time.NewTicker(treePoll)
	defer tick.Stop()
	for p.treeAlive() {
		select {
		case <-tick.C:
		case <-giveUp:
			return false
		case <-ctx.Done():
			return false
		}
	}
	return true
}

func (p *Process) treeAlive() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reaped {
		return false
	}
	return GroupAlive(p.pid) || (p.marker != nil && len(p.marker.Signal(0, p.pid)) > 0)
}

// Wait waits for the child to exit; with Spec.Group it then kills what is
// left of the tree, reaps the child, and returns once its output has been
// delivered (or Spec.DrainWait has passed). A non-zero exit is an Exit,
// not an error; the error is for a failure to wait at all.
func (p *Process) Wait() (Exit, error) {
	<-p.exited
	if p.stopCtx != nil && !p.stopCtx() {
		<-p.ctxDone // a stop is under way: it must not signal after the reap
	}
	var strays int
	// After a failed waitid the child's state is unknown: its pid may no
	// longer name our group, so nothing is killed by it.
	if p.group && p.waitErr == nil {
		// The leader is a zombie until the reap below, so its pid still
		// names our group: whatever it left running is killed now, never
		// a stranger. Leftovers get SIGKILL at once: nothing waits for
		// them, and a grace period would delay every caller that left a
		// process behind.
		p.mu.Lock()
		_ = unix.Kill(-p.pid, unix.SIGKILL)
		if p.marker != nil {
			strays = p.marker.KillLeftovers(p.pid, p.drain)
		}
		p.mu.Unlock()
	}
	if p.watchdog != nil {
		p.watchdog.Remove(p.pid)
	}
	p.mu.Lock()
	p.reaped = true
	p.mu.Unlock()
	werr := p.cmd.Wait()
	if p.out != nil {
		p.out.wait(p.drain)
	}
	if p.watchdog != nil && p.marker != nil {
		p.watchdog.RemoveMarker(p.marker.Entry())
	}
	e := Exit{Code: -1, Stopped: p.stopped.Load(), Strays: strays, Ended: p.ended}
	if ps := p.cmd.ProcessState; ps != nil {
		e.Code = ps.ExitCode()
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			e.Signal = ws.Signal()
		}
		e.CPU = ps.UserTime() + ps.SystemTime()
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			e.MaxRSS = ru.Maxrss << 10 // kilobytes on Linux
		}
	}
	if p.waitErr != nil {
		return e, fmt.Errorf("wait for process %d: %w", p.pid, p.waitErr)
	}
	var exitErr *exec.ExitError
	if werr != nil && !errors.As(werr, &exitErr) && !errors.Is(werr, exec.ErrWaitDelay) {
		return e, werr
	}
	return e, nil
}

// Exit is how a child ended.
type Exit struct {
	// Code is the exit status; -1 when a signal ended the child.
	Code int
	// Signal is the signal that ended the child, 0 if none did.
	Signal syscall.Signal
	// Stopped is true when Start's context ended before the child exited.
	Stopped bool
	// Strays counts the marked processes outside the group that were
	// killed after the child exited.
	Strays int
	// Ended is when the child's exit was seen.
	Ended time.Time
	// CPU is the child's user and system time; MaxRSS its peak resident
	// set in bytes. Neither counts what the child started.
	CPU    time.Duration
	MaxRSS int64
}

// Success reports whether the child exited with status 0.
func (e Exit) Success() bool { return e.Code == 0 && e.Signal == 0 }

// String says how the child ended, as os/exec does: "exit status 2",
// "signal: killed".
func (e Exit) String() string {
	if e.Signal != 0 {
		return "signal: " + e.Signal.String()
	}
	return "exit status " + strconv.Itoa(e.Code)
}

// Err is nil for a successful exit, else an *ExitError.
func (e Exit) Err() error {
	if e.Success() {
		return nil
	}
	return &ExitError{Exit: e}
}

// ExitError is an unsuccessful Exit as an error.
type ExitError struct{ Exit }

func (e *ExitError) Error() string { return e.Exit.String() }

// withEntry returns env with entry ("NAME=value"), replacing any NAME.
func withEntry(env []string, entry string) []string {
	name, _, _ := strings.Cut(entry, "=")
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return append(out, entry)
}

// waitExit waits until pid has exited without reaping it, so that its pid
// keeps naming its process group until we have killed what is left in it.
func waitExit(pid int) error {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			return err
		}
	}
}

// joinCgroup moves pid into the cgroup at dir. The child runs outside it
// for the few microseconds between fork and this write; a process it
// forks in that window escapes the limits. CLONE_INTO_CGROUP
// (SysProcAttr.UseCgroupFD) closes the window and is the next step once it
// can be tested on a cgroup2 host.
func joinCgroup(dir string, pid int) error {
	p := dir + "/cgroup.procs"
	// O_CREATE only matters for tests that write into a plain directory.
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("cgroup: %w", err)
	}
	_, err = f.WriteString(strconv.Itoa(pid))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("cgroup: write %q to %s: %w", strconv.Itoa(pid), p, err)
	}
	return nil
}
