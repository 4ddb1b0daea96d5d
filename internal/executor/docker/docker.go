// Package docker runs steps in containers of a Docker Engine, through its
// API (never the docker command).
//
// Each step is one container of Step.Image, removed when the step ends,
// so nothing a step started outlives it. Prepare creates the run's
// network, where sidecar containers run; a step joins it only when it has
// sidecars to reach by name (a link resolves the sidecar's name in that
// step's container alone), and otherwise runs on the engine's default
// bridge, which starts a container 40 to 150 ms faster here. The run's
// workspace (Run.Dir and Run.Scratch) is bind-mounted at the same path as
// on the host: Step.Dir, FilesIn and FilesOut need no translation, and
// the engine reads outputs on the host as it does for host steps. This
// needs an engine that sees Velocity's file system (the local one).
//
// The container's first process is a small shell (the init script in
// init.go) rather than the step's own shell: it removes from the
// environment what the image and the engine add, forwards SIGTERM to every
// process of the step, and hands back the step's exit status. The step's
// environment is exactly Step.Env, with two exceptions a program in an
// image cannot do without: PATH is the image's when Step.Env has none, and
// HOME is the container user's home when Step.Env has none.
//
// Steps run as the uid:gid of the Velocity process unless Step.User says
// otherwise, so that what they write in the workspace belongs to the same
// user as what host steps write, and a later host step can read and
// delete it.
//
// Every container and network carries the label OwnerLabel naming the
// Velocity process (host, pid and start time) that made it; New removes
// those whose process is gone, the leftovers of a Velocity that was
// killed before it could clean up.
package docker

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/moby/moby/client"

	dockerd "github.com/velocity-ci/velocity/internal/docker"
	"github.com/velocity-ci/velocity/internal/executor"
	"github.com/velocity-ci/velocity/internal/executor/owner"
)

// Labels set on everything the executor creates.
const (
	// OwnerLabel names the Velocity process that created the object:
	// "HOST/PID/START" (START is the process start time in clock ticks).
	OwnerLabel = "io.velocity.owner"
	// RunLabel names the network of the run the object belongs to.
	RunLabel = "io.velocity.run"
	// StepLabel names the step a container runs.
	StepLabel = "io.velocity.step"
)

// Options configure an Executor.
type Options struct {
	// DefaultImage runs the steps that name no image; empty fails them.
	DefaultImage string
	// Logger receives what the executor cleans up on its own; nil
	// discards it.
	Logger *slog.Logger
}

// Executor runs steps in containers. Create it with New; Close it when
// done.
type Executor struct {
	c     *client.Client
	opt   Options
	caps  executor.Capabilities
	owner string
	user  string

	// closeClient is set when the executor made its client (Connect).
	closeClient bool

	mu     sync.Mutex
	images map[string]*image
}

var _ executor.Executor = (*Executor)(nil)

// New makes an executor using c, which it does not close. It asks the
// engine which limits it can enforce, and removes the containers and
// networks left behind by Velocity processes that no longer run.
func New(ctx context.Context, c *client.Client, opt Options) (*Executor, error) {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	info, err := c.Info(ctx, client.InfoOptions{})
	if err != nil {
		return nil, fmt.Errorf("docker executor: %w", err)
	}
	self, err := owner.Self()
	if err != nil {
		return nil, fmt.Errorf("docker executor: %w", err)
	}
	e := &Executor{
		c:   c,
		opt: opt,
		// A memory limit without the swap limit lets a step swap past
		// it: only both together are a limit.
		caps: executor.Capabilities{
			Image:  true,
			Limits: info.Info.MemoryLimit && info.Info.SwapLimit && info.Info.CPUCfsQuota,
		},
		owner:  self,
		user:   fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid()),
		images: map[string]*image{},
	}
	e.sweep(ctx)
	return e, nil
}

// Capabilities implements executor.Executor: images always; limits when
// the engine's cgroups enforce memory, swap and CPU quotas (docker info
// says so).
func (e *Executor) Capabilities() executor.Capabilities { return e.caps }

// Connect makes an executor with a client of the engine internal/docker
// finds (DOCKER_HOST, else the local socket); Close closes the client.
func Connect(ctx context.Context, opt Options) (*Executor, error) {
	c, err := dockerd.Connect(ctx)
	if err != nil {
		return nil, err
	}
	e, err := New(ctx, c, opt)
	if err != nil {
		c.Close()
		return nil, err
	}
	e.closeClient = true
	return e, nil
}

// Close closes the client when Connect made it.
func (e *Executor) Close() error {
	if e.closeClient {
		return e.c.Close()
	}
	return nil
}

// check refuses a step that cannot run as asked.
func (e *Executor) check(step executor.Step, mounts []string) error {
	switch {
	case step.Script != "" && step.Command != nil:
		return fmt.Errorf("%s: both a script and a command", step.Name)
	case step.Script == "" && len(step.Command) == 0:
		return fmt.Errorf("%s: neither a script nor a command", step.Name)
	case step.Command != nil && step.Command[0] == "":
		return fmt.Errorf("%s: command %q is not a program name", step.Name, step.Command[0])
	case step.Image == "" && e.opt.DefaultImage == "":
		return fmt.Errorf("%s: no image to run the step in", step.Name)
	case !step.Limits.IsZero() && !e.caps.Limits:
		return fmt.Errorf("%s: resource limits: the Docker Engine does not enforce memory, swap and CPU limits here (docker info): %w", step.Name, executor.ErrUnsupported)
	}
	inside := false
	for _, m := range mounts {
		if m != "" && within(step.Dir, m) {
			inside = true
		}
	}
	if !inside {
		return fmt.Errorf("%s: working directory %s is not in the run's workspace", step.Name, step.Dir)
	}
	for _, f := range append(step.FilesIn[:len(step.FilesIn):len(step.FilesIn)], step.FilesOut...) {
		if !filepath.IsLocal(f.Path) {
			return fmt.Errorf("%s: file %q is not inside the working directory", step.Name, f.Path)
		}
	}
	return nil
}

// within reports whether path is dir or below it.
func within(path, dir string) bool {
	dir = strings.TrimSuffix(dir, "/")
	return path == dir || strings.HasPrefix(path, dir+"/")
}
