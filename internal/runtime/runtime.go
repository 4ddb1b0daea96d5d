package runtime

import (
	"context"
	"time"

	"github.com/velocity-ci/velocity/internal/netport"
)

// Defaults for the zero values in Spec and RestartPolicy.
const (
	DefaultStopGrace  = 10 * time.Second
	DefaultBackoff    = 200 * time.Millisecond
	DefaultMaxBackoff = 10 * time.Second
	DefaultResetAfter = 30 * time.Second
)

// Spec says how to run one instance of a release.
type Spec struct {
	// Service, Environment and Release name the instance in its ID, in log
	// lines and in errors; they do not change how it runs.
	Service, Environment, Release string
	// Dir is the release directory and the working directory of the
	// command. Required.
	Dir string
	// Command is a shell script, run with bash -c (sh -c when there is no
	// bash). It must stay in the foreground and listen on $PORT: when the
	// shell exits the instance has crashed, whatever the exit code, and
	// anything it left running in its process group is killed.
	Command string
	// Env is the complete environment; the runtime adds PORT (replacing
	// any PORT already there) and VELOCITY_INSTANCE (see Instance.Stop).
	Env []string
	// Secrets are the values in Env that must never be stored or shown:
	// every occurrence in the instance's output is replaced by *** before
	// it reaches the log file or LastLines, also when split across writes.
	Secrets [][]byte
	// Port is the port on 127.0.0.1 the command must listen on; 0 picks a
	// free one. The port stays the same across restarts, so the proxy's
	// route to Addr() never changes.
	Port int
	// PortRange bounds the port picked when Port is 0; zero means the
	// runtime's own range (see Config.PortRange), else any free port.
	PortRange netport.Range
	// LogDir receives the instance's output in <instance-id>.log, appended
	// to and rotated at 10 MiB keeping one old file (.log.1). Empty keeps
	// only the last lines in memory.
	LogDir string
	// Memory caps the instance's memory in bytes; 0 means no limit.
	Memory int64
	// CPU caps the instance's CPU time in cores (1.5 = one and a half);
	// 0 means no limit. Both limits need cgroup v2, see LimitsSupported.
	CPU float64
	// Restart says how fast a crashed instance is started again.
	Restart RestartPolicy
	// StopGrace is how long Stop waits between SIGTERM and SIGKILL;
	// 0 means DefaultStopGrace.
	StopGrace time.Duration
}

// RestartPolicy is an exponential backoff: a crash loop must not burn a
// CPU or flood the log, but a service that crashes once in a while should
// come back at once.
type RestartPolicy struct {
	// Backoff is the delay before the first restart; it doubles after
	// each crash. 0 means DefaultBackoff.
	Backoff time.Duration
	// MaxBackoff caps the delay. 0 means DefaultMaxBackoff.
	MaxBackoff time.Duration
	// ResetAfter: a process that ran at least this long before it exited
	// was healthy, so the delay starts again at Backoff. 0 means
	// DefaultResetAfter.
	ResetAfter time.Duration
}

func (p RestartPolicy) withDefaults() RestartPolicy {
	if p.Backoff <= 0 {
		p.Backoff = DefaultBackoff
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = DefaultMaxBackoff
	}
	if p.MaxBackoff < p.Backoff {
		p.MaxBackoff = p.Backoff
	}
	if p.ResetAfter <= 0 {
		p.ResetAfter = DefaultResetAfter
	}
	return p
}

// State is where an instance is in its life.
type State string

const (
	// StateStarting: a process is being spawned.
	StateStarting State = "starting"
	// StateRunning: a process is alive. The runtime does not probe it:
	// whether it serves on Addr is for the caller to check.
	StateRunning State = "running"
	// StateRestarting: the process exited and the supervisor is waiting
	// out the backoff before starting it again.
	StateRestarting State = "restarting"
	// StateFailed: the last attempt could not even spawn the process (the
	// release directory is gone, fork failed, ...). The supervisor keeps
	// retrying with backoff; LastLines says why.
	StateFailed State = "failed"
	// StateStopped: Stop has run; nothing of the instance is left.
	StateStopped State = "stopped"
)

// Runtime starts instances of releases.
//
// The contract, for every implementation:
//
//   - Start returns once the first process has been spawned, not once it
//     serves: the caller probes Addr for health and uses LastLines to say
//     why a release never became healthy. ctx bounds Start only; the
//     instance lives until Stop.
//   - From then on the instance is supervised: whenever its process exits,
//     for whatever reason, it is started again on the same port after a
//     backoff (see RestartPolicy). An instance never gives up on its own;
//     only Stop ends it.
//   - Every start runs in a process group of its own, and the whole group
//     is killed when the leader exits, so a restart never finds the port
//     held by a leftover of the previous process.
//   - Instances die with Velocity (see the package documentation).
type Runtime interface {
	Start(ctx context.Context, s Spec) (Instance, error)
}

// Instance is one supervised instance of a release. Its methods are safe
// for concurrent use.
type Instance interface {
	// ID names the instance uniquely (service-environment-random) and
	// names its log file.
	ID() string
	// Addr is 127.0.0.1:PORT.
	Addr() string
	State() State
	// Restarts counts the processes started after the first one.
	Restarts() int
	// Exited is closed when the instance is stopped for good, by Stop.
	Exited() <-chan struct{}
	// LastLines returns up to the last n lines of the instance's log
	// (its output and the supervisor's notes about it), oldest first. At
	// most 200 lines are kept.
	LastLines(n int) []string
	// Stop sends SIGTERM to the process group, waits up to StopGrace for
	// every process in it to exit, then sends SIGKILL; no restart follows.
	// If ctx ends first the group is killed at once and Stop returns
	// ctx's error, but still only after nothing is left running. Stop is
	// idempotent and may be called concurrently.
	Stop(ctx context.Context) error
	// Pid is the pid (and process group id) of the current process, 0
	// while there is none.
	Pid() int
}
