// Package local runs steps as host processes.
//
// Each attempt runs in its own process group so that a timeout, a Ctrl-C or
// the end of the step reaches every process the script started, including
// background ones. A process that leaves the group (setsid, a daemon's
// double fork) is found by the marker every process of the attempt
// inherits, MarkerVar=<random> in its environment (reaper.Marker), and
// treated as if it had stayed. A small reaper process (package reaper)
// kills the groups and the marked processes if Velocity itself is killed
// with SIGKILL, when no code of ours can run.
package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/velocity-ci/velocity/internal/executor"
	"github.com/velocity-ci/velocity/internal/reaper"
)

// DefaultKillGrace applies when a step sets no grace period.
const DefaultKillGrace = 10 * time.Second

// drainWait bounds how long output is read after a step's process group was
// killed: only a process that escaped the group (setsid) can hold the pipe
// open that long, and its output is not worth a hung run.
const drainWait = 2 * time.Second

// MarkerVar is set, to a value unique to each attempt, in the environment
// of every process a step starts; it replaces any value Step.Env has.
const MarkerVar = reaper.MarkerVar

// Executor runs steps on the host. Create it with New and Close it when done.
type Executor struct {
	shell  []string
	reaper *reaper.Reaper
}

// New finds the shell (bash, else sh) and starts the reaper.
func New() (*Executor, error) {
	shell, err := findShell()
	if err != nil {
		return nil, err
	}
	r, err := reaper.Start()
	if err != nil {
		return nil, err
	}
	return &Executor{shell: shell, reaper: r}, nil
}

// findShell prefers bash so that `pipefail` catches failures in the middle
// of a pipeline; sh -e is the portable fall-back.
func findShell() ([]string, error) {
	if p, err := exec.LookPath("bash"); err == nil {
		return []string{p, "--noprofile", "--norc", "-eo", "pipefail", "-c"}, nil
	}
	if p, err := exec.LookPath("sh"); err == nil {
		return []string{p, "-e", "-c"}, nil
	}
	return nil, errors.New("local executor: neither bash nor sh found in PATH")
}

// Shell returns the command line a script is appended to, for display.
func (e *Executor) Shell() []string { return append([]string(nil), e.shell...) }

// Close stops the reaper. Steps still running are killed by it.
func (e *Executor) Close() error { return e.reaper.Close() }

// run starts step's script as a host process group and waits for it and
// everything it started (see Run).
func (e *Executor) run(ctx context.Context, step executor.Step) (executor.Result, error) {
	if err := ctx.Err(); err != nil {
		return executor.Result{ExitCode: -1, Stopped: true}, nil
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return executor.Result{}, fmt.Errorf("%s: output pipe: %w", step.Name, err)
	}
	defer pr.Close()
	marker, err := reaper.NewMarker(MarkerVar)
	if err != nil {
		return executor.Result{}, fmt.Errorf("%s: %w", step.Name, err)
	}
	args := append(e.Shell(), step.Script)
	cmd := &exec.Cmd{
		Path:   args[0],
		Args:   args,
		Env:    withMarker(step.Env, marker.Entry()),
		Dir:    step.Dir,
		Stdout: pw,
		Stderr: pw,
		SysProcAttr: &syscall.SysProcAttr{
			Setpgid: true,
			// The shell dies with us even before the reaper learns its group.
			Pdeathsig: syscall.SIGKILL,
		},
	}
	// Registered before the start: a crash right after it must find the
	// processes that already left the group. The entry is one word.
	_ = e.reaper.AddMarker(marker.Entry())
	defer e.reaper.RemoveMarker(marker.Entry())
	res := executor.Result{Started: time.Now()}
	err = cmd.Start()
	pw.Close()
	if err != nil {
		return executor.Result{}, fmt.Errorf("%s: start %s: %w", step.Name, args[0], err)
	}
	pgid := cmd.Process.Pid
	marker.Started(pgid)
	e.reaper.Add(pgid)
	defer e.reaper.Remove(pgid)

	drained := make(chan struct{})
	go func() {
		defer close(drained)
		copyOutput(step.Output, pr)
	}()

	exited := make(chan error, 1)
	go func() { exited <- waitExit(pgid) }()

	grace := step.KillGrace
	if grace <= 0 {
		grace = DefaultKillGrace
	}
	var forceKill <-chan time.Time
	done := ctx.Done()
wait:
	for {
		select {
		case <-done:
			res.Stopped = true
			done = nil
			_ = syscall.Kill(-pgid, syscall.SIGTERM)
			marker.Signal(syscall.SIGTERM, pgid)
			t := time.NewTimer(grace)
			defer t.Stop()
			forceKill = t.C
		case <-forceKill:
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			marker.Signal(syscall.SIGKILL, pgid)
		case err := <-exited:
			if err != nil {
				return executor.Result{}, fmt.Errorf("%s: wait: %w", step.Name, err)
			}
			break wait
		}
	}
	// The shell has exited but is not reaped yet, so its pid still names
	// our group: whatever it left running is killed now, never a stranger.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	// Leftovers get SIGKILL at once, as the group's do: a grace period
	// would delay every step that left a process behind.
	marker.KillLeftovers(pgid, drainWait)
	werr := cmd.Wait()
	res.Finished = time.Now()
	select {
	case <-drained:
	case <-time.After(drainWait):
		_ = pr.SetReadDeadline(time.Now())
		<-drained
	}
	res.ExitCode = cmd.ProcessState.ExitCode()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		res.Signal = ws.Signal().String()
	}
	var exitErr *exec.ExitError
	if werr != nil && !errors.As(werr, &exitErr) {
		return res, fmt.Errorf("%s: %w", step.Name, werr)
	}
	return res, nil
}

// withMarker returns env with the marker entry, replacing any MarkerVar.
func withMarker(env []string, entry string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, MarkerVar+"=") {
			out = append(out, kv)
		}
	}
	return append(out, entry)
}

// waitExit waits until pid has exited without reaping it.
func waitExit(pid int) error {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err == unix.EINTR {
			continue
		}
		return err
	}
}

// copyOutput forwards r to w until EOF or a read deadline. A writer error
// stops forwarding but keeps reading, so the step never blocks on a full pipe.
func copyOutput(w interface{ Write([]byte) (int, error) }, r *os.File) {
	buf := make([]byte, 32*1024)
	for {
		n, err := r.Read(buf)
		if n > 0 && w != nil {
			if _, werr := w.Write(buf[:n]); werr != nil {
				w = nil
			}
		}
		if err != nil {
			return
		}
	}
}
