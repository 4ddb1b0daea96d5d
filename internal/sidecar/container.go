package sidecar

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"

	"github.com/velocity-ci/velocity/internal/executor"
	"github.com/velocity-ci/velocity/internal/executor/docker"
)

// Containers runs the sidecars that name an image: the run's workspace
// in the container executor (docker.Workspace).
type Containers interface {
	RunService(ctx context.Context, s docker.Service, started func(docker.Started)) (executor.Result, error)
	Exec(ctx context.Context, id, script string, env []string, out io.Writer) (executor.Result, error)
}

// containersOf finds the container side of the run's workspace: the
// workspace itself, or the one a routing workspace prepares for image
// steps (made on first use, so only a run with a container sidecar or
// image step reaches Docker).
func containersOf(ctx context.Context, r Runner) (Containers, error) {
	if c, ok := r.(Containers); ok {
		return c, nil
	}
	images, ok := r.(interface {
		Images(ctx context.Context) (executor.Workspace, error)
	})
	if !ok {
		return nil, errors.New("this executor runs no containers")
	}
	ws, err := images.Images(ctx)
	if err != nil {
		return nil, err
	}
	c, ok := ws.(Containers)
	if !ok {
		return nil, errors.New("this executor runs no container sidecars")
	}
	return c, nil
}

// containerEnv is a container sidecar's environment on top of its
// image's: its own env, and PORT, the port it listens on.
func containerEnv(own map[string]string, port int) []string {
	env := make([]string, 0, len(own)+1)
	for _, k := range slices.Sorted(maps.Keys(own)) {
		env = append(env, k+"="+own[k])
	}
	return append(env, "PORT="+strconv.Itoa(port))
}

// launchContainer starts a sidecar with an image as a container on the
// run's network.
func launchContainer(ctx context.Context, p *process, opt Options) error {
	c, err := containersOf(ctx, opt.Executor)
	if err != nil {
		return &StartError{Sidecar: p.name, Err: fmt.Errorf("runs in image %s: %w", p.spec.Image, err)}
	}
	p.containers = c
	p.started = make(chan struct{})
	go func() {
		defer close(p.done)
		p.res, p.runErr = c.RunService(ctx, docker.Service{
			Name:      p.name,
			For:       opt.Action,
			Image:     p.spec.Image,
			Script:    p.spec.Run,
			Env:       p.env,
			Output:    p.out,
			KillGrace: opt.KillGrace,
		}, func(st docker.Started) {
			p.cid, p.ip = st.ID, st.IP
			close(p.started)
		})
		p.out.flush()
	}()
	return nil
}

// running reports whether the container sidecar's container runs (its
// address is known).
func (p *process) running() bool {
	select {
	case <-p.started:
		return true
	default:
		return false
	}
}
