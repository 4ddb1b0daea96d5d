// Package runtime runs the instances of a service's releases, for
// Velocity's proxy to route to. Runtime and Instance are the contract every
// implementation meets (conformance suite: runtimetest; what a container
// runtime must do: docs/contracts.md); Local runs them as supervised host
// processes.
//
// A release is an immutable directory built from an action's outputs; an
// instance is its Command run with that directory as working directory and
// $PORT set to a port on 127.0.0.1. Local (NewLocal) implements Runtime:
//
//   - Each start runs bash -c (sh -c without bash) in a new process group,
//     so that signals and clean-up reach everything the command started.
//     When the group leader exits, the group is killed before the leader is
//     reaped: its pid, still held by the zombie, names our group and cannot
//     have been reused by a stranger.
//   - A process that left the group (setsid, a daemonizing double fork)
//     escapes kill(-pgid). Every process of an instance inherits
//     VELOCITY_INSTANCE=<id>, and whenever the group is signalled or killed
//     the processes carrying it in /proc/PID/environ are too, so nothing
//     outlives a stop, a crash or a shutdown; when Velocity itself dies, a
//     reaper (internal/reaper) finds and kills them the same way, by that marker.
//   - A supervisor goroutine per instance restarts a crashed process with
//     exponential backoff on the same port, and notes each crash in the
//     instance log.
//   - Output (stdout and stderr, one pipe) is streamed to
//     LogDir/<id>.log, rotated at 10 MiB, and the last 200 lines are kept
//     in memory for error messages. Nothing else is buffered. Spec.Secrets
//     are replaced by *** (package secret's Masker) before either sees the
//     output, so no secret an instance prints is ever stored.
//   - Memory and CPU limits use cgroup v2 when /sys/fs/cgroup is a
//     writable cgroup2 mount; elsewhere they are not enforced, and
//     LimitsSupported says so in a sentence callers print once.
//
// Instances die with Velocity: the shell gets Pdeathsig SIGKILL and a small
// reaper process (sh, fed "+ pgid"/"- pgid" lines over a pipe) kills every
// registered group when that pipe closes, which the kernel does even when
// Velocity is killed with SIGKILL. In this version that is always so, also
// under `velocity serve`, so restarting the server restarts every service.
// Letting instances outlive Velocity needs more than dropping Pdeathsig (a
// Spec.Detach switch was considered): a new Velocity would have to find
// and adopt the running processes, their ports, logs and cgroups, or they
// would be orphans holding ports. Until that exists, dying together is the
// safe choice.
//
// Pdeathsig fires when the OS thread that forked the child exits, not the
// process. The Go runtime only ends threads whose goroutine locked them
// (runtime.LockOSThread) and exited; this package never does that, and the
// reaper covers the rest of the group anyway.
package runtime
