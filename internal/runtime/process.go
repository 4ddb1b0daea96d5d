package runtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"strconv"
	"strings"

	"github.com/velocity-ci/velocity/internal/netport"
	"github.com/velocity-ci/velocity/internal/reaper"
)

// Config configures a Local runtime.
type Config struct {
	// Logger receives Velocity's own account of starts, crashes and stops;
	// the instances' output goes to their log files. nil discards it.
	Logger *slog.Logger

	// Ports hands out the instances' ports; it may be shared with what
	// else picks ports in the process (sidecars), so that the two never
	// pick the same one. nil gives the runtime a Picker of its own.
	Ports *netport.Picker
	// PortRange bounds the ports of instances whose Spec sets neither
	// Port nor PortRange (velocity serve --port-range); zero means any
	// free port.
	PortRange netport.Range

	// cgroupRoot replaces /sys/fs/cgroup and skips the cgroup2 probe, so
	// that tests can check the files written for limits in a temporary
	// directory.
	cgroupRoot string
}

// Local runs instances as supervised host processes. Create it with
// NewLocal and Close it when done.
type Local struct {
	shell      []string
	log        *slog.Logger
	reaper     *reaper.Reaper
	limits     *cgroups // nil: limits are not enforced
	limitsNote string

	ports     *netport.Picker
	portRange netport.Range

	instances Instances[*instance]
}

var _ Runtime = (*Local)(nil)

// NewLocal finds the shell, sets up cgroups when it can, and starts the
// reaper that kills the instances if Velocity dies.
func NewLocal(cfg Config) (*Local, error) {
	shell, err := findShell()
	if err != nil {
		return nil, err
	}
	l := &Local{shell: shell, log: cfg.Logger,
		ports: cfg.Ports, portRange: cfg.PortRange}
	if l.ports == nil {
		l.ports = &netport.Picker{}
	}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	root := cfg.cgroupRoot
	if root == "" {
		var ok bool
		ok, l.limitsNote = probeCgroup2(defaultCgroupRoot)
		if ok {
			root = defaultCgroupRoot
		}
	}
	if root != "" {
		cg := &cgroups{root: root}
		if err := cg.prepare(); err != nil {
			// Not fatal, like a missing cgroup2: services run, uncontained.
			l.limitsNote = fmt.Sprintf("cgroup v2 at %s cannot be used (%v): memory and CPU limits are not enforced", root, err)
			l.log.Warn(l.limitsNote)
		} else {
			l.limits = cg
			l.limitsNote = fmt.Sprintf("memory and CPU limits are enforced with cgroup v2 (%s)", root)
		}
	}
	if l.reaper, err = reaper.Start(); err != nil {
		return nil, err
	}
	return l, nil
}

// Limits says whether this runtime enforces Spec.Memory and Spec.CPU, with
// a sentence for the user.
func (l *Local) Limits() (bool, string) { return l.limits != nil, l.limitsNote }

// findShell prefers bash so that `pipefail` catches failures in the middle
// of a pipeline; sh -e is the portable fall-back. -e makes a failing setup
// line (cd, source) a crash rather than a server started in the wrong
// place.
func findShell() ([]string, error) {
	if p, err := exec.LookPath("bash"); err == nil {
		return []string{p, "--noprofile", "--norc", "-eo", "pipefail", "-c"}, nil
	}
	if p, err := exec.LookPath("sh"); err == nil {
		return []string{p, "-e", "-c"}, nil
	}
	return nil, errors.New("runtime: neither bash nor sh found in PATH")
}

// Start implements Runtime.
func (l *Local) Start(ctx context.Context, s Spec) (Instance, error) {
	name := s.Name()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	if err := s.validate(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	port, picked := s.Port, false
	if port == 0 {
		r := s.PortRange
		if r.IsZero() {
			r = l.portRange
		}
		ports, err := l.ports.Pick(r, 1)
		if err != nil {
			return nil, fmt.Errorf("start %s: %w", name, err)
		}
		port, picked = ports[0], true
	}
	id, err := newID(s)
	if err != nil {
		if picked {
			l.ports.Release(port)
		}
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	logger := l.log.With("instance", id, "service", s.Service, "environment", s.Environment, "release", s.Release)
	ilog, err := openInstanceLog(s.LogDir, id, logger)
	if err != nil {
		if picked {
			l.ports.Release(port)
		}
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	i := newInstance(l, s, id, port, ilog, logger)
	i.pickedPort = picked
	if s.Memory > 0 || s.CPU > 0 {
		if l.limits == nil {
			ilog.note(l.limitsNote)
		} else if i.cgroup, err = l.limits.create(id, s.Memory, s.CPU); err != nil {
			ilog.close()
			if picked {
				l.ports.Release(port)
			}
			return nil, fmt.Errorf("start %s: %w", name, err)
		}
	}
	// Registered before the spawn so that a concurrent Close waits for
	// this instance too.
	if !l.instances.Add(i) {
		i.finish(StateFailed)
		return nil, fmt.Errorf("start %s: runtime is closed", name)
	}
	p, err := i.spawn()
	if err != nil {
		i.log.note(fmt.Sprintf("instance %s could not be started: %v", id, err))
		i.finish(StateFailed)
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	i.running(p, false)
	logger.Info("instance started", "addr", i.addr, "pid", p.pid)
	go i.supervise(p)
	return i, nil
}

// Close stops every instance still running (as Stop(ctx) would) and then
// the reaper. Start fails afterwards.
func (l *Local) Close(ctx context.Context) error {
	return errors.Join(l.instances.Close(ctx), l.reaper.Close())
}

// Name names the instance's service, environment and release in errors
// ("web/production@r3").
func (s Spec) Name() string {
	n := s.Service
	if n == "" {
		n = "instance"
	}
	if s.Environment != "" {
		n += "/" + s.Environment
	}
	if s.Release != "" {
		n += "@" + s.Release
	}
	return n
}

func (s Spec) validate() error {
	switch {
	case s.Image != "":
		// Running the command on the host instead would deploy something
		// other than what was asked for.
		return fmt.Errorf("image %q: the local runtime runs instances as host processes and cannot use an image: %w", s.Image, ErrUnsupported)
	case strings.TrimSpace(s.Command) == "":
		return errors.New("no command")
	case s.Dir == "":
		return errors.New("no release directory")
	case s.Port < 0 || s.Port > 65535:
		return fmt.Errorf("port %d out of range", s.Port)
	case s.Memory < 0:
		return fmt.Errorf("negative memory limit %d", s.Memory)
	case s.CPU < 0:
		return fmt.Errorf("negative CPU limit %g", s.CPU)
	}
	return nil
}

// InstanceEnv is an instance's environment in every runtime: env with
// PORT set to port and the marker variable (VELOCITY_INSTANCE) to id,
// whatever env had.
func InstanceEnv(env []string, port int, id string) []string {
	return withMarker(withPort(env, port), id)
}

// withPort returns a copy of env with PORT set, whatever env had.
func withPort(env []string, port int) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, "PORT=") {
			out = append(out, kv)
		}
	}
	return append(out, "PORT="+strconv.Itoa(port))
}

// markerVar is set to the instance's ID in the environment of its command.
// Every process the instance starts inherits it, also one that left the
// process group (setsid, a double fork) and so escapes kill(-pgid): the
// supervisor finds those by it in /proc/PID/environ (proc.Marker, which
// says what it cannot find).
const markerVar = "VELOCITY_INSTANCE"

// withMarker returns env with markerVar set to id, whatever env had.
func withMarker(env []string, id string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, markerVar+"=") {
			out = append(out, kv)
		}
	}
	return append(out, markerVar+"="+id)
}

// newID makes service-environment-random: readable in `ps`, log and cgroup
// names, unique across releases and restarts of Velocity.
func newID(s Spec) (string, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("instance id: %w", err)
	}
	var parts []string
	for _, p := range []string{s.Service, s.Environment} {
		if p = sanitize(p); p != "" {
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		parts = []string{"instance"}
	}
	return strings.Join(append(parts, hex.EncodeToString(b[:])), "-"), nil
}

// sanitize keeps names safe as file and cgroup names.
func sanitize(s string) string {
	return strings.Trim(strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_':
			return r
		}
		return '-'
	}, s), "-.")
}
