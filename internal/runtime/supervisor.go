package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/velocity-ci/velocity/internal/proc"
	"github.com/velocity-ci/velocity/internal/secret"
)

// drainWait bounds how long output is read after a process group was
// killed: only a process that escaped the group (setsid) can hold the pipe
// open that long, and its output is not worth a stuck supervisor.
const drainWait = 2 * time.Second

// instanceProc is one start of an instance: a shell leading its own
// process group.
type instanceProc struct {
	p       *proc.Process
	pid     int // also the process group id
	started time.Time
	ended   time.Time // set by reap
	exit    proc.Exit // set by reap
	masker  *secret.Masker
}

// spawn starts the command in a new process group.
func (i *instance) spawn() (*instanceProc, error) {
	// exec reports a missing working directory as "fork/exec /usr/bin/bash:
	// no such file or directory", which sends people looking for bash.
	if _, err := os.Stat(i.spec.Dir); err != nil {
		return nil, fmt.Errorf("release directory: %w", err)
	}
	// Masked here, before anything is stored: the log file, the ring
	// behind LastLines and so deploy errors and `service logs` never see
	// a secret. One masker per process, as its output is one stream;
	// reap flushes what it held back once the pipe is closed.
	m := secret.NewMasker(i.log, i.spec.Secrets)
	spec := proc.Spec{
		Path:   i.l.shell[0],
		Args:   append(append([]string(nil), i.l.shell[1:]...), i.spec.Command),
		Env:    i.env,
		Dir:    i.spec.Dir,
		Stdout: m,
		Stderr: m,
		Group:  true,
		// The shell dies with us even before the reaper learns its
		// group. Always set in this version: see the package doc.
		DieWithParent: true,
		// Processes that leave the instance's group (setsid) still carry
		// its marker; the reaper kills them too if Velocity dies.
		Marker:   i.marker,
		Watchdog: i.l.reaper,
		// The shell often dies of SIGTERM at once while the app it
		// started is still shutting down gracefully: the app gets its
		// grace period too.
		GraceForTree: true,
		DrainWait:    drainWait,
	}
	if i.cgroup != nil {
		spec.Cgroup = i.cgroup.dir
	}
	p, err := proc.Start(context.Background(), spec)
	if err != nil {
		if errors.Is(err, proc.ErrLimits) {
			// It ran, briefly, before it was killed: keep what it said.
			_ = m.Flush()
			i.log.endOfStream()
			return nil, err
		}
		return nil, fmt.Errorf("spawn %s: %w", spec.Path, err)
	}
	return &instanceProc{p: p, pid: p.Pid(), started: time.Now(), masker: m}, nil
}

// reap kills what is left of p's group once its leader has exited, reaps
// the leader and finishes reading its output. Killing the group is also
// what frees the port for the restart.
func (i *instance) reap(p *instanceProc) {
	exit, err := p.p.Wait()
	if err != nil {
		i.logger.Warn("waiting for instance process", "pid", p.pid, "err", err)
	}
	p.exit, p.ended = exit, time.Now()
	if exit.Strays > 0 {
		i.log.note(fmt.Sprintf("killed %d process(es) instance %s had started outside its process group", exit.Strays, i.id))
	}
	_ = p.masker.Flush()
	i.log.endOfStream()
}

// supervise runs for the life of the instance: it waits for the process
// to exit and starts it again after a backoff, until Stop.
func (i *instance) supervise(p *instanceProc) {
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
			case <-p.p.Exited():
			}
			i.reap(p)
			what, uptime = describeExit(p.exit), p.ended.Sub(p.started)
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
func (i *instance) terminate(p *instanceProc) {
	i.log.note(fmt.Sprintf("stopping instance %s (SIGTERM; SIGKILL after %s)", i.id, i.grace))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-i.killNow:
			cancel()
		case <-ctx.Done():
		}
	}()
	if !p.p.Terminate(ctx, i.grace) {
		i.log.note(fmt.Sprintf("instance %s still running after SIGTERM; killed", i.id))
	}
	i.reap(p)
	i.logger.Info("instance stopped", "exit", describeExit(p.exit))
}

// describeExit says how a process ended, for the log.
func describeExit(e proc.Exit) string {
	if e.Signal != 0 {
		return "was killed by " + unix.SignalName(e.Signal)
	}
	return fmt.Sprintf("exited with code %d", e.Code)
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
