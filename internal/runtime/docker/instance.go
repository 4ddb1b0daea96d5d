package containers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/velocity-ci/velocity/internal/netport"
	"github.com/velocity-ci/velocity/internal/runtime"
)

// engineTimeout bounds one call to the engine made outside a caller's
// context (starts, kills, removal): a hung engine must not hang a
// supervisor forever.
const engineTimeout = 30 * time.Second

// drainWait bounds how long the output of an exited container is read:
// the engine ends the stream when the container stops, this is for an
// engine that does not.
const drainWait = 5 * time.Second

// instance implements runtime.Instance for one container. The supervisor
// goroutine owns the container's runs; the methods here read its
// published state or ask it to stop.
type instance struct {
	r        *Runtime
	id       string
	cid      string // the container's ID, set by Start before supervise
	hostPort int
	addr     string
	grace    time.Duration
	backoff  *runtime.Backoff
	log      *runtime.Log
	logger   *slog.Logger
	out      *output

	// Supervision reports State, Restarts and Exits and carries Stop.
	*runtime.Supervision
}

var _ runtime.Instance = (*instance)(nil)

func newInstance(r *Runtime, s runtime.Spec, id string, hostPort int, log *runtime.Log, logger *slog.Logger) *instance {
	grace := s.StopGrace
	if grace <= 0 {
		grace = runtime.DefaultStopGrace
	}
	return &instance{
		r: r, id: id, hostPort: hostPort, addr: loopback(hostPort),
		grace: grace, backoff: runtime.NewBackoff(s.Restart), log: log, logger: logger,
		out:         &output{log: log, secrets: s.Secrets},
		Supervision: runtime.NewSupervision(id),
	}
}

func (i *instance) ID() string               { return i.id }
func (i *instance) Addr() string             { return i.addr }
func (i *instance) LastLines(n int) []string { return i.log.LastLines(n) }
func (i *instance) Logs(ctx context.Context, tail int) (io.ReadCloser, error) {
	return i.log.Follow(ctx, tail), nil
}

// run is one start of the container.
type run struct {
	started time.Time
	exit    chan exitStatus // receives once, when the container stopped
	logs    chan struct{}   // closed when its output was read to the end
	cancel  context.CancelFunc
}

type exitStatus struct {
	ended time.Time
	what  string // "exited with code 3"
}

// run starts the container and follows its output and its exit.
func (i *instance) run() (*run, error) {
	ctx, cancel := context.WithTimeout(context.Background(), engineTimeout)
	_, err := i.r.c.ContainerStart(ctx, i.cid, client.ContainerStartOptions{})
	cancel()
	if err != nil {
		return nil, fmt.Errorf("start container: %w", err)
	}
	bg, stop := context.WithCancel(context.Background())
	r := &run{started: time.Now(), exit: make(chan exitStatus, 1), logs: make(chan struct{}), cancel: stop}
	go func() {
		defer close(r.logs)
		i.out.follow(bg, i.r.c, i.cid)
	}()
	go func() { r.exit <- i.wait(bg) }()
	return r, nil
}

// wait waits for the container to stop and says how it did. Should the
// wait call fail (the engine restarted), it polls.
func (i *instance) wait(ctx context.Context) exitStatus {
	for {
		res := i.r.c.ContainerWait(ctx, i.cid, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
		select {
		case <-res.Result:
			return i.exitStatus(ctx)
		case err := <-res.Error:
			if ctx.Err() != nil {
				return exitStatus{ended: time.Now(), what: "was stopped"}
			}
			if cerrdefs.IsNotFound(err) {
				return exitStatus{ended: time.Now(), what: "was removed from the engine by someone else"}
			}
			i.logger.Warn("waiting for container", "err", err)
			select {
			case <-time.After(time.Second):
			case <-ctx.Done():
			}
		}
	}
}

// exitStatus describes how the stopped container ended, for a user.
func (i *instance) exitStatus(ctx context.Context) exitStatus {
	ictx, cancel := context.WithTimeout(ctx, engineTimeout)
	defer cancel()
	res, err := i.r.c.ContainerInspect(ictx, i.cid, client.ContainerInspectOptions{})
	if err != nil || res.Container.State == nil {
		return exitStatus{ended: time.Now(), what: "exited"}
	}
	st := res.Container.State
	return exitStatus{ended: time.Now(), what: describeExit(st.ExitCode, st.OOMKilled)}
}

// describeExit says how a container ended: the engine reports a program
// killed by signal N as exit code 128+N.
func describeExit(code int, oom bool) string {
	switch {
	case oom:
		return fmt.Sprintf("was killed for exceeding its memory limit (exit code %d)", code)
	case code > 128 && code < 128+65:
		return fmt.Sprintf("was killed by %s (exit code %d)", signalName(code-128), code)
	}
	return fmt.Sprintf("exited with code %d", code)
}

// supervise runs for the life of the instance: it waits for the container
// to stop and starts it again after a backoff, until Stop.
func (i *instance) supervise(r *run) {
	var startErr error
	for {
		var what string
		var uptime time.Duration
		if r != nil {
			var st exitStatus
			select {
			case <-i.StopRequested():
				i.terminate(r)
				i.remove()
				i.finish(runtime.StateStopped)
				return
			case st = <-r.exit:
			}
			i.endRun(r)
			what, uptime = st.what, st.ended.Sub(r.started)
		} else {
			what = fmt.Sprintf("could not be started (%v)", startErr)
		}
		if !i.AwaitRestart(what, uptime, r == nil, i.backoff, i.log, i.logger) {
			i.remove()
			i.finish(runtime.StateStopped)
			return
		}
		if r, startErr = i.run(); startErr != nil {
			continue
		}
		i.Running(true)
		i.logger.Info("instance restarted")
	}
}

// endRun finishes reading a stopped run's output and waits for the
// engine to let go of the published port: it reports the container
// stopped a moment before its port proxy ends, and until then the port
// looks taken by another program to whoever checks (deploy does, to tell
// a port thief from a crash).
func (i *instance) endRun(r *run) {
	deadline := time.After(drainWait)
	select {
	case <-r.logs:
	case <-deadline:
		i.logger.Warn("the engine did not end the output of a stopped container")
	}
	r.cancel()
	for netport.Taken(i.hostPort) {
		select {
		case <-deadline:
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// terminate stops the container: SIGTERM, then SIGKILL once the grace
// period is over or Stop's caller gives up.
func (i *instance) terminate(r *run) {
	i.log.Note(fmt.Sprintf("stopping instance %s (SIGTERM; SIGKILL after %s)", i.id, i.grace))
	i.kill("SIGTERM")
	t := time.NewTimer(i.grace)
	defer t.Stop()
	var st exitStatus
	select {
	case st = <-r.exit:
	case <-t.C:
		i.log.Note(fmt.Sprintf("instance %s still running after SIGTERM; killed", i.id))
		i.kill("SIGKILL")
		st = <-r.exit
	case <-i.KillRequested():
		i.kill("SIGKILL")
		st = <-r.exit
	}
	i.endRun(r)
	i.logger.Info("instance stopped", "exit", st.what)
}

func (i *instance) kill(signal string) {
	ctx, cancel := context.WithTimeout(context.Background(), engineTimeout)
	defer cancel()
	_, err := i.r.c.ContainerKill(ctx, i.cid, client.ContainerKillOptions{Signal: signal})
	if err != nil && !cerrdefs.IsNotFound(err) && !cerrdefs.IsConflict(err) {
		// Conflict: it is not running any more, which is what we want.
		i.logger.Warn("signal container", "signal", signal, "err", err)
	}
}

// remove removes the container; it is stopped already, Force covers an
// engine that thinks otherwise.
func (i *instance) remove() {
	if i.cid == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), engineTimeout)
	defer cancel()
	_, err := i.r.c.ContainerRemove(ctx, i.cid, client.ContainerRemoveOptions{Force: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		i.log.Note(fmt.Sprintf("container of instance %s could not be removed: %v", i.id, err))
		i.logger.Warn("container left behind", "container", shortID(i.cid), "err", errors.Unwrap(err))
	}
}

// finish releases what the instance holds and closes Exited. It runs once,
// when the supervisor ends or when Start fails.
func (i *instance) finish(final runtime.State) {
	if final == runtime.StateStopped {
		i.log.Note(fmt.Sprintf("instance %s stopped", i.id))
	}
	if err := i.log.Close(); err != nil {
		i.logger.Warn("instance log", "err", err)
	}
	i.r.ports.Release(i.hostPort)
	i.Ended(final)
	i.r.instances.Remove(i)
}
