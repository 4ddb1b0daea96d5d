// Package proc is the one way Velocity starts a child process: actions,
// service instances, workflow task commands, git, the crash watchdog and
// the background resumer all go through Start.
//
// A Spec says what to run and how it is contained; Start returns a
// Process whose Wait reaps it and says how it ended (Exit). With
// Spec.Group the child leads its own process group and is managed as a
// tree:
//
//   - Signal, Terminate and the stop that follows the end of Start's
//     context reach every process of the group, and with Spec.Marker every
//     process that left it (setsid, a daemon's double fork) but still
//     carries the marker in its environment.
//   - When the leader exits, Wait kills what is left of its group before
//     reaping it: the zombie leader's pid still names the group, so the
//     kill can never hit a stranger that reused the pid. Marked processes
//     outside the group get SIGKILL too (Exit.Strays counts them).
//   - Output is read for at most Spec.DrainWait once the group is dead:
//     only a process that escaped everything can still hold a pipe open,
//     and it must not hang the caller.
//   - Spec.Watchdog (package reaper) is told the marker before the start
//     and the group right after it, so that a crash of Velocity, even by
//     SIGKILL, still takes the tree down.
//
// Without Spec.Group, a Process is a single child, as with os/exec.
//
// Who calls what: Start and Wait are called once each, by the owner of the
// process (Wait from any one goroutine). Signal, Terminate, Pid and Exited
// may be called from any goroutine until Wait has returned; a signal sent
// after that is dropped, never delivered to a reused pid. Stdout and
// Stderr are written from goroutines Start starts, one write at a time per
// writer; the same writer for both gets both streams through one pipe,
// in the order the child wrote them. Output is written as soon as it is
// read, in chunks of up to 32 KiB that need not end at a line, so a writer
// that wants timestamps takes them in Write. A writer's error stops
// delivery to it, never the child, which would otherwise block on a full
// pipe.
//
// Linux only, like the rest of Velocity's process handling: it relies on
// waitid(WNOWAIT), /proc and pidfds.
package proc
