package docker

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"

	"github.com/velocity-ci/velocity/internal/executor"
)

// Service is a container that runs beside a step (a sidecar): the
// image's own program, as the image's user and with the image's
// environment (a database image needs both), reachable on the run's
// network by its Name.
type Service struct {
	Name  string
	Image string
	// For names the step (Step.Name) that reaches the service by Name:
	// the name resolves to the service in that step's containers only,
	// so that two actions running at once may each have a sidecar "db".
	For string
	// Script, when set, replaces the image's command; it runs like a
	// step's script (bash or sh -e, SIGTERM forwarded to every process)
	// but keeps the image's environment.
	Script string
	// Env is added to the image's environment.
	Env    []string
	Output io.Writer
	// KillGrace is the time between SIGTERM and SIGKILL when ctx ends.
	KillGrace time.Duration
}

// Started is a service that runs.
type Started struct {
	// ID is the container's; IP its address on the run's network, which
	// the host reaches too (a bridge network).
	ID, IP string
}

// RunService runs s until it exits or ctx ends, like a step; started is
// called once its container runs. The container is removed before
// RunService returns.
func (w *Workspace) RunService(ctx context.Context, s Service, started func(Started)) (executor.Result, error) {
	if err := w.steps.Begin(s.Name); err != nil {
		return executor.Result{}, err
	}
	defer w.steps.End()
	spec := Container{Name: "sidecar " + s.Name, Image: s.Image, Env: s.Env, Private: true}
	if s.Script != "" {
		cmd := command(s.Script, nil, s.Env, nil)
		// The image's entrypoint would take the init script for
		// arguments of its own program.
		spec.Entrypoint, spec.Cmd = cmd[:1], cmd[1:]
	}
	var link string
	defer func() {
		if link != "" {
			w.unlink(s.For, link)
		}
	}()
	return w.runContainer(ctx, spec, s.Output, s.KillGrace, func(id, name string) {
		link = name + ":" + s.Name
		w.link(s.For, link)
		if started == nil {
			return
		}
		st := Started{ID: id}
		if ins, err := w.e.c.ContainerInspect(context.WithoutCancel(ctx), id, client.ContainerInspectOptions{}); err == nil && ins.Container.NetworkSettings != nil {
			if ep := ins.Container.NetworkSettings.Networks[w.network]; ep != nil && ep.IPAddress.IsValid() {
				st.IP = ep.IPAddress.String()
			}
		}
		started(st)
	})
}

// Exec runs script with sh in the running container id, with env added
// to the container's, and returns how it ended; out receives its
// combined output. When ctx ends first the result is Stopped and the
// script is left to end with its container.
func (w *Workspace) Exec(ctx context.Context, id, script string, env []string, out io.Writer) (executor.Result, error) {
	if out == nil {
		out = io.Discard
	}
	ex, err := w.e.c.ExecCreate(ctx, id, client.ExecCreateOptions{
		Cmd:          []string{"/bin/sh", "-c", script},
		Env:          env,
		AttachStdout: true,
		AttachStderr: true,
	})
	if err != nil {
		return executor.Result{}, fmt.Errorf("exec in the container: %w", err)
	}
	att, err := w.e.c.ExecAttach(ctx, ex.ID, client.ExecAttachOptions{})
	if err != nil {
		return executor.Result{}, fmt.Errorf("exec in the container: %w", err)
	}
	defer att.Close()
	res := executor.Result{Started: time.Now()}
	// Both streams into one buffer, then out: a readiness check's few
	// lines, whose order across the two streams is not worth a pipe.
	var buf bytes.Buffer
	capped := &headWriter{w: &buf, left: maxExecOutput}
	copied := make(chan error, 1)
	go func() {
		_, err := stdcopy.StdCopy(capped, capped, att.Reader)
		copied <- err
	}()
	select {
	case <-copied:
	case <-ctx.Done():
		att.Close()
		<-copied
		return executor.Result{ExitCode: -1, Stopped: true, Started: res.Started, Finished: time.Now()}, nil
	}
	out.Write(buf.Bytes())
	ins, err := w.e.c.ExecInspect(context.WithoutCancel(ctx), ex.ID, client.ExecInspectOptions{})
	if err != nil {
		return executor.Result{}, fmt.Errorf("exec in the container: %w", err)
	}
	res.ExitCode = ins.ExitCode
	res.Finished = time.Now()
	return res, nil
}

// maxExecOutput bounds what a readiness check's output keeps: a check
// printing without end must not fill Velocity's memory.
const maxExecOutput = 64 << 10

// headWriter keeps the first left bytes written to it and drops the
// rest, reporting every write as whole so the copy goes on.
type headWriter struct {
	w    io.Writer
	left int
}

func (h *headWriter) Write(p []byte) (int, error) {
	if n := min(len(p), h.left); n > 0 {
		h.left -= n
		if _, err := h.w.Write(p[:n]); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// link makes the container of a service resolve by its alias in the
// containers of step from now on ("ID:ALIAS", a link of the network).
func (w *Workspace) link(step, link string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.links == nil {
		w.links = map[string][]string{}
	}
	w.links[step] = append(w.links[step], link)
}

func (w *Workspace) unlink(step, link string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.links[step] = slices.DeleteFunc(w.links[step], func(l string) bool { return l == link })
	if len(w.links[step]) == 0 {
		delete(w.links, step)
	}
}

// linksOf are the links of step's containers.
func (w *Workspace) linksOf(step string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.links[step])
}
