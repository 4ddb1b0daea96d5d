package runtime

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/velocity-ci/velocity/internal/secret"
)

const (
	// drainWait bounds how long output is read after a process group was
	// killed: only a process that escaped the group (setsid) can hold the
	// pipe open that long, and its output is not worth a stuck supervisor.
	drainWait = 2 * time.Second
	// groupPoll is how often Stop looks for processes still shutting down
	// after the group leader has exited.
	groupPoll = 25 * time.Millisecond
)

// proc is one start of an instance: a shell leading its own process group.
type proc struct {
	cmd     *exec.Cmd
	pid     int // also the process group id
	started time.Time
	ended   time.Time // set by reap
	out     *os.File  // read end of the output pipe

	leaderExited chan struct{} // closed when the leader exited (not reaped yet)
	waitErr      error         // from waitid; read after leaderExited
	drained      chan struct{} // closed when the output copier is done
}

// spawn starts the command in a new process group.
func (i *instance) spawn() (*proc, error) {
	// exec reports a missing working directory as "fork/exec /usr/bin/bash:
	// no such file or directory", which sends people looking for bash.
	if _, err := os.Stat(i.spec.Dir); err != nil {
		return nil, fmt.Errorf("release directory: %w", err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("output pipe: %w", err)
	}
	args := append(append([]string(nil), i.l.shell...), i.spec.Command)
	cmd := &exec.Cmd{
		Path:   args[0],
		Args:   args,
		Env:    i.env,
		Dir:    i.spec.Dir,
		Stdout: pw,
		Stderr: pw,
		SysProcAttr: &syscall.SysProcAttr{
			Setpgid: true,
			// The shell dies with us even before the reaper learns its
			// group. Always set in this version: see the package doc.
			Pdeathsig: syscall.SIGKILL,
		},
	}
	err = cmd.Start()
	pw.Close() // the children hold the write end; EOF comes when they are all gone
	if err != nil {
		pr.Close()
		return nil, fmt.Errorf("spawn %s: %w", args[0], err)
	}
	p := &proc{
		cmd:          cmd,
		pid:          cmd.Process.Pid,
		started:      time.Now(),
		out:          pr,
		leaderExited: make(chan struct{}),
		drained:      make(chan struct{}),
	}
	i.l.reaper.Add(p.pid)
	go func() {
		defer close(p.drained)
		// Masked here, before anything is stored: the log file, the ring
		// behind LastLines and so deploy errors and `service logs` never
		// see a secret. One masker per process, as its output is one
		// stream; Flush passes on what it held back when the pipe closes.
		m := secret.NewMasker(i.log, i.spec.Secrets)
		copyOutput(m, pr)
		_ = m.Flush()
	}()
	go func() {
		p.waitErr = waitExit(p.pid)
		close(p.leaderExited)
	}()
	if i.cgroup != nil {
		if err := i.cgroup.add(p.pid); err != nil {
			// Unlimited is not what was asked for: do not let it run.
			_ = unix.Kill(-p.pid, unix.SIGKILL)
			i.reap(p)
			return nil, fmt.Errorf("limits: %w", err)
		}
	}
	return p, nil
}

// reap kills what is left of p's group once its leader has exited, reaps
// the leader and finishes reading its output.
func (i *instance) reap(p *proc) {
	<-p.leaderExited
	if p.waitErr != nil {
		i.logger.Warn("waiting for instance process", "pid", p.pid, "err", p.waitErr)
	}
	// The leader is a zombie until Wait, so its pid still names our group:
	// whatever it left running is killed now, never a stranger. This is
	// also what frees the port for the restart.
	_ = unix.Kill(-p.pid, unix.SIGKILL)
	i.killStrays(p.pid)
	i.l.reaper.Remove(p.pid)
	_ = p.cmd.Wait() // the exit status is in cmd.ProcessState
	p.ended = time.Now()
	select {
	case <-p.drained:
	case <-time.After(drainWait):
		_ = p.out.SetReadDeadline(time.Now())
		<-p.drained
	}
	p.out.Close()
	i.log.endOfStream()
}

// killStrays kills the processes of the instance that left its process
// group, and waits until they are gone: they could hold the port the
// restart needs. A stray may fork as it is killed, so this looks again
// until nothing is found, within a bound.
func (i *instance) killStrays(pgid int) {
	killed := map[int]bool{}
	deadline := time.Now().Add(drainWait)
	for {
		pids := i.marker.Signal(unix.SIGKILL, pgid)
		for _, pid := range pids {
			killed[pid] = true
		}
		if len(pids) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(groupPoll / 5)
	}
	if len(killed) > 0 {
		i.log.note(fmt.Sprintf("killed %d process(es) instance %s had started outside its process group", len(killed), i.id))
	}
}

// supervise runs for the life of the instance: it waits for the process
// to exit and starts it again after a backoff, until Stop.
func (i *instance) supervise(p *proc) {
	b := backoff{policy: i.policy, cur: i.policy.Backoff}
	var spawnErr error
	for {
		var what string
		var uptime time.Duration
		if p != nil {
			select {
			case <-i.stopReq:
				i.terminate(p)
				i.finish(StateStopped)
				return
			case <-p.leaderExited:
			}
			i.reap(p)
			what, uptime = describeExit(p.cmd.ProcessState), p.ended.Sub(p.started)
		} else {
			what = fmt.Sprintf("could not be started (%v)", spawnErr)
		}
		select {
		case <-i.stopReq:
			// It exited as it was being stopped: nothing to restart.
			i.finish(StateStopped)
			return
		default:
		}
		i.exitedAlone(what)
		delay := b.next(uptime)
		if p != nil {
			i.setState(StateRestarting, 0)
		} else {
			i.setState(StateFailed, 0)
		}
		i.log.note(fmt.Sprintf("instance %s %s; restarting in %s", i.id, what, delay))
		i.logger.Warn("instance exited; restarting", "exit", what, "delay", delay)

		t := time.NewTimer(delay)
		select {
		case <-i.stopReq:
			t.Stop()
			i.finish(StateStopped)
			return
		case <-t.C:
		}
		i.setState(StateStarting, 0)
		if p, spawnErr = i.spawn(); spawnErr != nil {
			continue
		}
		i.running(p, true)
		i.logger.Info("instance restarted", "pid", p.pid)
	}
}

// terminate stops p for good: SIGTERM to the group, then SIGKILL once the
// grace period is over or Stop's caller gives up.
func (i *instance) terminate(p *proc) {
	i.log.note(fmt.Sprintf("stopping instance %s (SIGTERM; SIGKILL after %s)", i.id, i.grace))
	_ = unix.Kill(-p.pid, unix.SIGTERM)
	i.marker.Signal(unix.SIGTERM, p.pid)
	grace := time.NewTimer(i.grace)
	defer grace.Stop()
	if !i.waitGroupGone(p, grace.C) {
		i.log.note(fmt.Sprintf("instance %s still running after SIGTERM; killed", i.id))
		_ = unix.Kill(-p.pid, unix.SIGKILL)
	}
	i.reap(p)
	i.logger.Info("instance stopped", "exit", describeExit(p.cmd.ProcessState))
}

// waitGroupGone waits until no live process is left in p's group, or
// gives up (false) when the grace period ends or Stop's context does.
func (i *instance) waitGroupGone(p *proc, giveUp <-chan time.Time) bool {
	select {
	case <-p.leaderExited:
	case <-giveUp:
		return false
	case <-i.killNow:
		return false
	}
	// The leader is often a shell that dies of SIGTERM at once while the
	// app it started is still shutting down gracefully: the app gets its
	// grace period too, rather than the SIGKILL reap would send.
	tick := time.NewTicker(groupPoll)
	defer tick.Stop()
	for groupAlive(p.pid) || len(i.marker.Signal(0, p.pid)) > 0 {
		select {
		case <-tick.C:
		case <-giveUp:
			return false
		case <-i.killNow:
			return false
		}
	}
	return true
}

// describeExit says how a process ended, for the log.
func describeExit(ps *os.ProcessState) string {
	if ps == nil {
		return "ended (status unknown)"
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return "was killed by " + unix.SignalName(ws.Signal())
	}
	return fmt.Sprintf("exited with code %d", ps.ExitCode())
}

// backoff is the restart delay: it doubles after every crash up to the
// maximum, and starts over after a process that stayed up long enough.
type backoff struct {
	policy RestartPolicy
	cur    time.Duration
}

func (b *backoff) next(uptime time.Duration) time.Duration {
	if uptime >= b.policy.ResetAfter {
		b.cur = b.policy.Backoff
	}
	d := min(b.cur, b.policy.MaxBackoff)
	b.cur = min(b.cur*2, b.policy.MaxBackoff)
	return d
}
