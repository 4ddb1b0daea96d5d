package runtime

import (
	"context"
	"errors"
	"io"
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
	// command. Required for host processes; a container's release is its
	// Image, and the container runtime does not use Dir.
	Dir string
	// Command is a shell script, run with bash -c (sh -c when there is no
	// bash). It must stay in the foreground and listen on $PORT: when the
	// shell exits the instance has crashed, whatever the exit code, and
	// anything it left running is killed.
	Command string
	// Image is the container image the command runs in (by the image's
	// /bin/sh -c; without Command the image's own entrypoint and command
	// run); empty runs it in the runtime's default environment (the host,
	// for Local). A runtime
	// without images refuses a Spec naming one with an error wrapping
	// ErrUnsupported; it never starts the instance without it.
	Image string
	// Env is the complete environment; the runtime adds PORT (replacing
	// any PORT already there) and VELOCITY_INSTANCE (see Instance.Stop).
	Env []string
	// Secrets are the values in Env that must never be stored or shown:
	// every occurrence in the instance's output is replaced by *** before
	// it reaches the log file or LastLines, also when split across writes.
	Secrets [][]byte
	// Port is the port the command must listen on ($PORT); 0 lets the
	// runtime pick one (Local picks a free port on 127.0.0.1; the
	// container runtime uses 8080 inside the container, published on a
	// free loopback port). The address stays the same across restarts, so
	// the proxy's route to Addr() never changes.
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
	// 0 means no limit. Local needs cgroup v2 for both (see
	// Local.Limits); the container runtime has the engine enforce them.
	CPU float64
	// Restart says how fast a crashed instance is started again.
	Restart RestartPolicy
	// StopGrace is how long Stop waits between SIGTERM and SIGKILL;
	// 0 means DefaultStopGrace.
	StopGrace time.Duration
	// Health is how the instance says it is ready, for a runtime that
	// reports readiness to load balancing of its own (the Kubernetes
	// runtime's readiness probe and Service). Velocity's proxy checks
	// every instance itself, whatever a runtime does with it.
	Health Health
}

// Health is an instance's health check as the service defines it.
type Health struct {
	// HTTP is the path answered 2xx or 3xx when healthy; with TCP set,
	// accepting a connection is enough.
	HTTP string
	TCP  bool
	// Interval between checks and Timeout of one; 0 is the runtime's
	// default.
	Interval, Timeout time.Duration
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

// ErrUnsupported is wrapped by the error Start returns for a Spec that
// asks for something the runtime cannot do (an image, limits it cannot
// enforce where it says so).
var ErrUnsupported = errors.New("not supported by this runtime")

// Runtime starts instances of releases. Implementations: Local (host
// processes) and runtime/docker (containers); a Kubernetes runtime would be
// another one, and every one passes the conformance suite in runtimetest
// (docs/contracts.md).
//
// The contract, for every implementation:
//
//   - Start returns once the instance has been started, not once it
//     serves: the caller (deploy, through the proxy's health checks)
//     probes Addr for health and uses LastLines to say why a release never
//     became healthy. ctx bounds Start only; the instance lives until Stop.
//     Start may be called from many goroutines at once.
//   - From then on the instance is supervised: whenever its program
//     exits, for whatever reason, it is started again at the same address
//     after a backoff (see RestartPolicy), and Exits counts it. An
//     instance never gives up on its own; only Stop ends it.
//   - Nothing of an exited program is left when it is restarted (for
//     Local: its whole process group and the processes that left it are
//     killed), so a restart never finds the port held by a leftover.
//   - Instances die with Velocity (see the package documentation for
//     Local); a runtime whose instances outlive it must say how a new
//     Velocity adopts them.
type Runtime interface {
	Start(ctx context.Context, s Spec) (Instance, error)
}

// Instance is one supervised instance of a release. Its methods are safe
// for concurrent use.
//
// Health: the runtime reports whether the program runs (State, Restarts,
// Exits); whether it serves is checked against Addr by the proxy's health
// checks, the same for every runtime.
type Instance interface {
	// ID names the instance uniquely (service-environment-random) and
	// names its log file.
	ID() string
	// Addr is the host:port the instance serves on, as Velocity's proxy
	// dials it: 127.0.0.1:PORT for Local, a container's or a pod's
	// address elsewhere. Callers must not assume the host. It does not
	// change for the life of the instance.
	Addr() string
	State() State
	// Restarts counts the programs started after the first one.
	Restarts() int
	// Exits counts the times the program ended without Stop (a crash, or
	// a start that failed), and says how it last did, in words for a
	// user ("exited with code 3"); 0 and "" when it never did.
	Exits() (n int, last string)
	// Exited is closed when the instance is stopped for good, by Stop.
	Exited() <-chan struct{}
	// LastLines returns up to the last n lines of the instance's log
	// (its output and the supervisor's notes about it), oldest first. At
	// most 200 lines are kept.
	LastLines(n int) []string
	// Logs streams the instance's log: up to the last tail lines kept,
	// then every line as it is written, until ctx ends or the instance is
	// stopped (then Read returns io.EOF after the last line). A slow
	// reader never slows the instance: what it cannot keep up with is
	// dropped, and a note in the stream says so. The caller closes the
	// reader.
	Logs(ctx context.Context, tail int) (io.ReadCloser, error)
	// Stop drains and ends the instance: it asks the program to finish
	// (SIGTERM, to every process of it) so that requests in flight are
	// answered, waits up to StopGrace for it to exit, then kills it; no
	// restart follows. The proxy stops sending new requests before (its
	// own draining). If ctx ends first the instance is killed at once and
	// Stop returns ctx's error, but still only after nothing is left
	// running. Stop is idempotent and may be called concurrently.
	Stop(ctx context.Context) error
}
