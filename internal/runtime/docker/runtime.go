package containers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/velocity-ci/velocity/internal/netport"
	"github.com/velocity-ci/velocity/internal/runtime"
)

// Labels on every container this runtime creates.
const (
	// LabelInstance holds the instance ID; every container of the
	// runtime has it, so `docker ps --filter label=velocity.instance`
	// lists them all.
	LabelInstance    = "velocity.instance"
	LabelService     = "velocity.service"
	LabelEnvironment = "velocity.environment"
	LabelRelease     = "velocity.release"
	// LabelOwner is Config.Owner: whose containers these are.
	LabelOwner = "velocity.owner"
	// LabelPID is the pid of the Velocity process that started it.
	LabelPID = "velocity.pid"
)

// DefaultPort is $PORT inside a container when the Spec sets no Port.
const DefaultPort = 8080

// Config configures a container runtime.
type Config struct {
	// Client talks to the engine (docker.Connect). Required; the runtime
	// does not close it.
	Client *client.Client
	// Owner names the Velocity that owns the containers, the data
	// directory for a host. New removes the containers of the same Owner
	// whose Velocity process is gone. Required.
	Owner string
	// Logger receives Velocity's account of starts, crashes and stops.
	Logger *slog.Logger
	// Ports hands out the published host ports; share it with the other
	// runtimes of the process. nil gives the runtime its own.
	Ports *netport.Picker
	// PortRange bounds the host ports when a Spec has no PortRange.
	PortRange netport.Range
}

// Runtime runs instances as containers. Create it with New and Close it
// when done.
type Runtime struct {
	c         *client.Client
	owner     string
	log       *slog.Logger
	ports     *netport.Picker
	portRange netport.Range

	instances runtime.Instances[*instance]
}

var _ runtime.Runtime = (*Runtime)(nil)

// New makes a runtime and removes the containers a dead Velocity of the
// same Owner left behind.
func New(ctx context.Context, cfg Config) (*Runtime, error) {
	if cfg.Client == nil || cfg.Owner == "" {
		return nil, errors.New("container runtime: a client and an owner are required")
	}
	r := &Runtime{c: cfg.Client, owner: cfg.Owner, log: cfg.Logger, ports: cfg.Ports,
		portRange: cfg.PortRange}
	if r.ports == nil {
		r.ports = &netport.Picker{}
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if err := r.removeLeftovers(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

// Limits says that memory and CPU limits are enforced: the engine does
// it, with cgroup v1 as with v2.
func (r *Runtime) Limits() (bool, string) {
	return true, "memory and CPU limits are enforced by the Docker Engine"
}

// removeLeftovers removes the containers of this owner whose Velocity
// process no longer runs.
func (r *Runtime) removeLeftovers(ctx context.Context) error {
	list, err := r.c.ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: client.Filters{}.Add("label", LabelOwner+"="+r.owner)})
	if err != nil {
		return fmt.Errorf("list containers left by an earlier Velocity: %w", err)
	}
	for _, c := range list.Items {
		if pid, err := strconv.Atoi(c.Labels[LabelPID]); err == nil && pid != os.Getpid() && alive(pid) {
			continue
		}
		if _, err := r.c.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
			return fmt.Errorf("remove container %s left by an earlier Velocity: %w", c.Labels[LabelInstance], err)
		}
		r.log.Info("removed a container left by an earlier Velocity", "instance", c.Labels[LabelInstance])
	}
	return nil
}

// alive reports whether a process pid exists.
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// Start implements runtime.Runtime.
func (r *Runtime) Start(ctx context.Context, s runtime.Spec) (runtime.Instance, error) {
	name := s.Name()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	if err := validate(s); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	rng := s.PortRange
	if rng.IsZero() {
		rng = r.portRange
	}
	ports, err := r.ports.Pick(rng, 1)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	hostPort := ports[0]
	id, err := runtime.NewInstanceID(s)
	if err != nil {
		r.ports.Release(hostPort)
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	logger := r.log.With("instance", id, "service", s.Service, "environment", s.Environment, "release", s.Release, "image", s.Image)
	ilog, err := runtime.OpenLog(s.LogDir, id, logger)
	if err != nil {
		r.ports.Release(hostPort)
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	i := newInstance(r, s, id, hostPort, ilog, logger)
	if !r.instances.Add(i) {
		i.finish(runtime.StateFailed)
		return nil, fmt.Errorf("start %s: runtime is closed", name)
	}
	if i.cid, err = r.create(ctx, s, id, hostPort); err != nil {
		i.log.Note(fmt.Sprintf("instance %s could not be created: %v", id, err))
		i.finish(runtime.StateFailed)
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	run, err := i.run()
	if err != nil {
		i.log.Note(fmt.Sprintf("instance %s could not be started: %v", id, err))
		i.remove()
		i.finish(runtime.StateFailed)
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	i.Running(false)
	logger.Info("instance started", "addr", i.addr, "container", shortID(i.cid))
	go i.supervise(run)
	return i, nil
}

// create creates the instance's container, pulling the image first when
// the engine lacks it.
func (r *Runtime) create(ctx context.Context, s runtime.Spec, id string, hostPort int) (string, error) {
	port := s.Port
	if port == 0 {
		port = DefaultPort
	}
	cport, err := network.ParsePort(strconv.Itoa(port) + "/tcp")
	if err != nil {
		return "", err
	}
	cfg := &container.Config{
		Image:        s.Image,
		Env:          runtime.InstanceEnv(s.Env, port, id),
		ExposedPorts: network.PortSet{cport: {}},
		Labels: map[string]string{
			LabelInstance: id, LabelService: s.Service, LabelEnvironment: s.Environment,
			LabelRelease: s.Release, LabelOwner: r.owner, LabelPID: strconv.Itoa(os.Getpid()),
		},
		// The engine's default (SIGTERM) is what Stop sends anyway; set so
		// that `docker stop` by hand drains the same way.
		StopSignal: "SIGTERM",
	}
	if strings.TrimSpace(s.Command) != "" {
		cfg.Entrypoint = []string{"/bin/sh", "-c"}
		cfg.Cmd = []string{s.Command}
	}
	host := &container.HostConfig{
		PortBindings: network.PortMap{cport: {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: strconv.Itoa(hostPort)}}},
		// Velocity supervises; the engine must not restart behind its back.
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyDisabled},
		// The output is kept by Velocity (Spec.LogDir); the engine's copy,
		// which Velocity reads it from, stays small.
		LogConfig: container.LogConfig{Type: "json-file", Config: map[string]string{"max-size": "10m", "max-file": "1"}},
		Resources: container.Resources{Memory: s.Memory, NanoCPUs: int64(s.CPU * 1e9)},
	}
	if s.Memory > 0 {
		// No swap on top: the limit is what the instance gets, as with
		// the process runtime's memory.max.
		host.Resources.MemorySwap = s.Memory
	}
	opts := client.ContainerCreateOptions{Config: cfg, HostConfig: host, Name: id}
	res, err := r.c.ContainerCreate(ctx, opts)
	if cerrdefs.IsNotFound(err) {
		if perr := r.pull(ctx, s.Image); perr != nil {
			return "", fmt.Errorf("image %s is not on this engine and could not be pulled: %w", s.Image, perr)
		}
		res, err = r.c.ContainerCreate(ctx, opts)
	}
	if err != nil {
		return "", fmt.Errorf("create container from %s: %w", s.Image, err)
	}
	return res.ID, nil
}

// ImageID resolves ref to the ID of the image it names now, pulling it
// when the engine lacks it. Deploys pin a release to it, so that a tag
// that moves later changes neither its instances nor a rollback to it.
func (r *Runtime) ImageID(ctx context.Context, ref string) (string, error) {
	res, err := r.c.ImageInspect(ctx, ref)
	if cerrdefs.IsNotFound(err) {
		if perr := r.pull(ctx, ref); perr != nil {
			return "", fmt.Errorf("image %s is not on this engine and could not be pulled: %w", ref, perr)
		}
		res, err = r.c.ImageInspect(ctx, ref)
	}
	if err != nil {
		return "", fmt.Errorf("image %s: %w", ref, err)
	}
	return res.ID, nil
}

func (r *Runtime) pull(ctx context.Context, ref string) error {
	resp, err := r.c.ImagePull(ctx, ref, client.ImagePullOptions{})
	if err != nil {
		return err
	}
	defer resp.Close()
	return resp.Wait(ctx)
}

// Close stops every instance still running (as Stop(ctx) would). Start
// fails afterwards.
func (r *Runtime) Close(ctx context.Context) error {
	return r.instances.Close(ctx)
}

func validate(s runtime.Spec) error {
	switch {
	case s.Image == "":
		return errors.New("no image: the container runtime runs images")
	case s.Port < 0 || s.Port > 65535:
		return fmt.Errorf("port %d out of range", s.Port)
	case s.Memory < 0:
		return fmt.Errorf("negative memory limit %d", s.Memory)
	case s.Memory > 0 && s.Memory < 6<<20:
		// The engine's own minimum; said here in the user's terms.
		return fmt.Errorf("memory limit %d bytes is below the 6 MiB a container needs", s.Memory)
	case s.CPU < 0:
		return fmt.Errorf("negative CPU limit %g", s.CPU)
	}
	return nil
}

func shortID(id string) string { return id[:min(len(id), 12)] }

func loopback(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }
