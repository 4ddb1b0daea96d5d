package docker

import (
	"context"
	"fmt"
	"io"
	"strings"
	"syscall"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/velocity-ci/velocity/internal/executor"
)

// DefaultKillGrace applies when a step sets no grace period.
const DefaultKillGrace = 10 * time.Second

// drainWait bounds how long output is read after the container ended:
// the stream closes with the container, so only a stuck connection
// waits that long.
const drainWait = 2 * time.Second

// Run implements executor.Workspace: one container per step, removed
// when the step ends.
func (w *Workspace) Run(ctx context.Context, step executor.Step) (executor.Result, error) {
	if err := w.steps.Begin(step.Name); err != nil {
		return executor.Result{}, err
	}
	defer w.steps.End()
	if err := w.e.check(step, []string{w.run.Dir, w.run.Scratch}); err != nil {
		return executor.Result{}, err
	}
	if err := ctx.Err(); err != nil {
		return executor.Result{ExitCode: -1, Stopped: true}, nil
	}
	if err := executor.PlaceFilesIn(step); err != nil {
		return executor.Result{}, err
	}
	res, err := w.runStep(ctx, step)
	if err != nil {
		return res, err
	}
	if err := executor.CollectFilesOut(step, &res); err != nil {
		return res, err
	}
	return res, nil
}

// Container describes a container of the run: a step's or a service's.
type Container struct {
	// Name is used in errors and labels.
	Name  string
	Image string
	// Cmd is the container's command; nil runs the image's own.
	Cmd []string
	// Entrypoint replaces the image's when not nil.
	Entrypoint []string
	// Env is added to the image's environment as the engine does.
	Env []string
	// Dir is the working directory; empty is the image's.
	Dir string
	// User is who runs it; empty is the image's user.
	User string
	// Private puts the container on the run's network; otherwise it is
	// on the engine's default bridge, which starts a container faster
	// (no embedded DNS to set up: 40 to 150 ms a container here).
	Private bool
	// Links make services resolve by name in this container
	// ("CONTAINER:NAME"); only with Private.
	Links  []string
	Limits executor.Limits
}

// create makes a container on the run's network with the workspace
// mounted, the image pulled first when the engine lacks it.
func (w *Workspace) create(ctx context.Context, spec Container) (id, name string, err error) {
	binds := []string{}
	for _, dir := range []string{w.run.Dir, w.run.Scratch} {
		if dir != "" {
			binds = append(binds, dir+":"+dir)
		}
	}
	hc := &container.HostConfig{Binds: binds}
	var endpoints *network.NetworkingConfig
	if spec.Private {
		hc.NetworkMode = container.NetworkMode(w.network)
		endpoints = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			// On a user-defined network a link is an alias only this
			// container resolves.
			w.network: {Links: spec.Links},
		}}
	}
	if spec.Limits.Memory > 0 {
		hc.Resources.Memory = spec.Limits.Memory
		hc.Resources.MemorySwap = spec.Limits.Memory // no swap beyond the limit
	}
	if spec.Limits.CPU > 0 {
		hc.Resources.NanoCPUs = int64(spec.Limits.CPU * 1e9)
	}
	opts := client.ContainerCreateOptions{
		Name: fmt.Sprintf("%s-%d", w.network, w.seq.Add(1)),
		Config: &container.Config{
			Image:      spec.Image,
			Cmd:        spec.Cmd,
			Entrypoint: spec.Entrypoint,
			Env:        spec.Env,
			WorkingDir: spec.Dir,
			User:       spec.User,
			Labels: map[string]string{
				OwnerLabel: w.e.owner,
				RunLabel:   w.network,
				StepLabel:  spec.Name,
			},
			AttachStdout: true,
			AttachStderr: true,
		},
		HostConfig:       hc,
		NetworkingConfig: endpoints,
	}
	res, err := w.e.c.ContainerCreate(ctx, opts)
	if err != nil {
		return "", "", fmt.Errorf("%s: create a container of %s: %w", spec.Name, spec.Image, err)
	}
	return res.ID, opts.Name, nil
}

// remove removes a container whatever state it is in.
func (w *Workspace) remove(id string) error {
	_, err := w.e.c.ContainerRemove(context.Background(), id, client.ContainerRemoveOptions{Force: true})
	if err != nil && !isGone(err) {
		return err
	}
	return nil
}

// runStep runs the step's container to its end.
func (w *Workspace) runStep(ctx context.Context, step executor.Step) (executor.Result, error) {
	ref := step.Image
	if ref == "" {
		ref = w.e.opt.DefaultImage
	}
	// A pull is cancelled with the step: it leaves nothing to clean up.
	imageEnv, err := w.e.image(ctx, ref)
	if err != nil {
		if ctx.Err() != nil {
			return executor.Result{ExitCode: -1, Stopped: true}, nil
		}
		return executor.Result{}, fmt.Errorf("%s: %w", step.Name, err)
	}
	env := step.Env
	if env == nil {
		env = []string{}
	}
	user := step.User
	if user == "" {
		user = w.e.user
	}
	cmd := command(step.Script, step.Command, env, imageEnv)
	links := w.linksOf(step.Name)
	return w.runContainer(ctx, Container{
		Name:  step.Name,
		Image: ref,
		// The shell is the entrypoint: an image's own (a tool image's
		// program) would take the init script for its arguments.
		Entrypoint: cmd[:1],
		Cmd:        cmd[1:],
		Env:        env,
		Dir:        step.Dir,
		User:       user,
		// Only a step with sidecars to reach by name needs the run's
		// network.
		Private: len(links) > 0,
		Links:   links,
		Limits:  step.Limits,
	}, step.Output, step.KillGrace, nil)
}

// runContainer creates spec's container, streams its output to out and
// waits for its end; when ctx ends it sends SIGTERM, then SIGKILL after
// grace. started, when set, is called with the container's ID and name once it
// runs. The container is removed before runContainer returns.
func (w *Workspace) runContainer(ctx context.Context, spec Container, out io.Writer, grace time.Duration, started func(id, name string)) (executor.Result, error) {
	if _, err := w.e.image(ctx, spec.Image); err != nil {
		if ctx.Err() != nil {
			return executor.Result{ExitCode: -1, Stopped: true}, nil
		}
		return executor.Result{}, fmt.Errorf("%s: %w", spec.Name, err)
	}
	// Not cancelled with the step: a create that half happened would
	// leave a container nobody removes.
	bg := context.WithoutCancel(ctx)
	id, name, err := w.create(bg, spec)
	if err != nil {
		return executor.Result{}, err
	}
	defer func() {
		if err := w.remove(id); err != nil {
			w.e.opt.Logger.Warn("container not removed", "step", spec.Name, "container", id, "err", err)
		}
	}()
	if out == nil {
		out = io.Discard
	}
	att, err := w.e.c.ContainerAttach(bg, id, client.ContainerAttachOptions{Stream: true, Stdout: true, Stderr: true})
	if err != nil {
		return executor.Result{}, fmt.Errorf("%s: attach to the container: %w", spec.Name, err)
	}
	defer att.Close()
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		stdcopy.StdCopy(out, out, att.Reader)
	}()
	res := executor.Result{Started: time.Now()}
	if _, err := w.e.c.ContainerStart(bg, id, client.ContainerStartOptions{}); err != nil {
		return executor.Result{}, fmt.Errorf("%s: start the container of %s: %w", spec.Name, spec.Image, err)
	}
	if started != nil {
		started(id, name)
	}
	waited := w.e.c.ContainerWait(bg, id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	if grace <= 0 {
		grace = DefaultKillGrace
	}
	var force <-chan time.Time
	done := ctx.Done()
	for {
		select {
		case st := <-waited.Result:
			res.Finished = time.Now()
			res.ExitCode = int(st.StatusCode)
			w.finish(bg, id, &res)
			select {
			case <-copied:
			case <-time.After(drainWait):
				att.Close()
				<-copied
			}
			return res, nil
		case err := <-waited.Error:
			return executor.Result{}, fmt.Errorf("%s: wait for the container: %w", spec.Name, err)
		case <-done:
			// A step's init script sends SIGTERM on to every process.
			done = nil
			res.Stopped = true
			w.kill(bg, id, "TERM")
			t := time.NewTimer(grace)
			defer t.Stop()
			force = t.C
		case <-force:
			force = nil
			w.kill(bg, id, "KILL")
		}
	}
}

// kill signals the container's init; a container already gone is fine.
func (w *Workspace) kill(ctx context.Context, id, signal string) {
	if _, err := w.e.c.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: signal}); err != nil && !isGone(err) && !cerrdefs.IsConflict(err) {
		w.e.opt.Logger.Warn("cannot signal a container", "container", id, "signal", signal, "err", err)
	}
}

// finish names the signal that ended a stopped step, and says when the
// engine killed a step for its memory.
func (w *Workspace) finish(ctx context.Context, id string, res *executor.Result) {
	if res.Stopped && res.ExitCode > 128 {
		res.Signal = signalName(res.ExitCode - 128)
		return
	}
	if res.ExitCode == 128+int(syscall.SIGKILL) {
		if ins, err := w.e.c.ContainerInspect(ctx, id, client.ContainerInspectOptions{}); err == nil && ins.Container.State != nil && ins.Container.State.OOMKilled {
			res.Signal = "killed (out of memory)"
		}
	}
}

func signalName(n int) string {
	return syscall.Signal(n).String()
}

// isGone reports an error about an object that no longer exists.
func isGone(err error) bool {
	return cerrdefs.IsNotFound(err) || err != nil && strings.Contains(err.Error(), "is already in progress")
}
