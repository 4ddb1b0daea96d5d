// Package executor defines how the engine has one attempt of an action
// executed, independent of where it runs: host processes (local), and
// later containers or a Kubernetes pod.
//
// Implementations live in subpackages and all pass the conformance suite in
// executortest; docs/contracts.md says what a new one must do.
package executor

import (
	"context"
	"errors"
	"io"
	"time"
)

// Run describes one run of a pipeline to Prepare: the directories its
// steps may work in.
type Run struct {
	// ID names the run uniquely among the runs prepared at the same time;
	// an executor derives the names of what it creates (a network, a
	// volume, a pod) from it. Only letters, digits and '-'.
	ID string
	// Dir is the run's workspace on the host: the checkout that steps
	// read and write, and where the engine reads their outputs after
	// each step. An executor whose steps see another file system mounts
	// it (a bind mount) or keeps the two in sync around every step.
	Dir string
	// Scratch is a host directory for the run's temporary files (the
	// sidecars' directories); steps may work below it like below Dir.
	// Empty when the run needs none.
	Scratch string
}

// Step is one attempt of an action (or a sidecar, or a readiness check).
type Step struct {
	// Name identifies the step in errors, e.g. "build/test#1".
	Name string
	// Script is a shell script, run by bash with -e and -o pipefail (sh
	// -e without bash). It is passed to the shell as an argument, never
	// interpolated, so it may contain anything. Exactly one of Script
	// and Command is set.
	Script string
	// Command is a program and its arguments, run without a shell. The
	// program is looked up in the PATH of Env; one that cannot be found
	// ends the step with exit code 127, as in a shell.
	Command []string
	// Env is the complete environment ("KEY=value"); nothing is inherited
	// from Velocity's own environment, nor from an image's.
	Env []string
	// Dir is the working directory: Run.Dir or Run.Scratch or a directory
	// below one of them, as a host path. An executor whose steps see
	// another file system translates it.
	Dir string
	// Image is the container image the step runs in; empty runs it in the
	// executor's default environment. An executor without image support
	// (Capabilities.Image false) fails a step that names one with an
	// error saying so; it never runs the step without it.
	Image string
	// User is who the step runs as in its image: a name or UID, with an
	// optional ":GROUP" or ":GID". Empty is the executor's default (the
	// Docker executor's is the uid:gid of Velocity, so that what steps
	// write in the workspace stays Velocity's). Only with an image: an
	// executor without image support refuses it like Image.
	User string
	// Limits caps what the step may use; the zero value caps nothing. An
	// executor that cannot enforce a limit that is set fails the step
	// with an error saying so (see Capabilities.Limits).
	Limits Limits
	// FilesIn are copied into the step's file system before it starts,
	// each replacing what is at its Path.
	FilesIn []File
	// FilesOut are copied out of the step's file system after it ended,
	// whatever its exit status (a failing test's report is wanted most).
	// A missing one is named in Result.Missing, not an error.
	FilesOut []File
	// Sidecars run beside the step, inside it (Capabilities.Sidecars):
	// each is started before the step's program, which starts only once
	// every sidecar is ready, and is stopped with the step. A sidecar
	// that is not ready in time fails Run with an error naming it and
	// quoting its last output lines. Only with an image; callers pass
	// none to an executor without the capability, which refuses them
	// like Image.
	Sidecars []Sidecar
	// Output receives the combined stdout and stderr as it is produced,
	// in the order the step wrote it, and the lines of its Sidecars,
	// each prefixed "[sidecar NAME] ". Write is called from one goroutine
	// at a time; it must not block for long, since the step blocks when
	// its pipe fills. Nil discards the output.
	Output io.Writer
	// KillGrace is how long a step has to exit after it was asked to stop
	// (SIGTERM to every process it started, sent when ctx ends) before
	// everything it started is killed; 0 means the executor's default.
	KillGrace time.Duration
}

// Sidecar is a program in its own image that a step talks to (a
// database), run inside the step: it shares the step's network, so the
// step reaches it at Name:Port.
type Sidecar struct {
	// Name is a host name that resolves to the sidecar in the step
	// (lowercase letters, digits and '-').
	Name  string
	Image string
	// Script, when set, replaces the image's command; it runs like a
	// step's script but keeps the image's environment and user.
	Script string
	// Env is added to the image's environment ("KEY=value").
	Env []string
	// Port is where it listens; it is ready once it accepts a TCP
	// connection there, unless Ready is set.
	Port int
	// Ready is a shell script run in the sidecar's container (sh -c)
	// that exits 0 once the sidecar is ready.
	Ready string
	// ReadyTimeout bounds the wait for readiness once its container
	// runs; ReadyInterval is the time between two checks. Zero is the
	// executor's default.
	ReadyTimeout, ReadyInterval time.Duration
}

// File is one file handed to or taken from a step.
type File struct {
	// Path is the file in the step's view, relative to Step.Dir; it may
	// not leave that directory ("..").
	Path string
	// Host is the file on Velocity's side: read before the step for
	// FilesIn, written after it for FilesOut (directories are created).
	Host string
}

// Limits caps a step's resources. Zero fields cap nothing.
type Limits struct {
	// Memory caps the step's memory in bytes.
	Memory int64
	// CPU caps its CPU time in cores (1.5 = one and a half).
	CPU float64
}

// IsZero reports whether no limit is set.
func (l Limits) IsZero() bool { return l == Limits{} }

// Result is how an attempt ended.
type Result struct {
	// ExitCode is the step's exit status; -1 when it died by a signal.
	ExitCode int
	// Signal names the signal that ended it, if any ("terminated", "killed").
	Signal string
	// Stopped is true when the step was ended because ctx was done.
	Stopped bool
	// Missing lists the Paths of FilesOut the step did not leave behind.
	Missing  []string
	Started  time.Time
	Finished time.Time
}

// Capabilities says which optional parts of Step an executor honours, so
// that callers (and executortest) can tell "not supported here" from a
// failure before running anything.
type Capabilities struct {
	// Image: Step.Image is honoured.
	Image bool
	// Limits: Step.Limits is enforced.
	Limits bool
	// Sidecars: Step.Sidecars is honoured for steps with an image.
	Sidecars bool
}

// ErrUnsupported is wrapped by the error Workspace.Run returns for a step
// that asks for something the executor cannot do (Capabilities); the
// message names the step and the field.
var ErrUnsupported = errors.New("not supported by this executor")

// Executor prepares runs for their steps.
//
// Lifecycle, per run:
//
//	ws, err := ex.Prepare(ctx, run)   // once, before the run's first step
//	ws.Run(ctx, step) ...             // any number, many at once
//	ws.Cleanup(ctx)                   // once, after every Run returned
//
// Prepare sets up what the run's steps share: nothing for host processes,
// a network and a workspace volume for containers, a pod for Kubernetes.
// Prepare may be called for several runs at once, from any goroutine;
// the workspaces are independent. An error from Prepare means no step of
// the run can execute; nothing is left to clean up.
//
// Capabilities is constant for an executor and may be called at any time.
type Executor interface {
	Capabilities() Capabilities
	Prepare(ctx context.Context, run Run) (Workspace, error)
}

// Workspace runs the steps of one prepared run.
//
// Run blocks until the step's processes have exited, every process it
// started is gone (a background job, a daemon that left the process
// group: nothing outlives its step), its FilesOut are copied and its output
// has been delivered. It may be called from many goroutines at once; steps
// running at once see the same workspace, so a later step sees what an
// earlier one wrote to Run.Dir. Cancelling ctx asks the step to stop
// (SIGTERM to all its processes), then forces it after Step.KillGrace;
// Result.Stopped says so. The returned error is for failures to run at all
// (no shell, bad directory, an unsupported field, which wraps
// ErrUnsupported); a step that exits non-zero is a Result, not an error.
//
// Cleanup releases what Prepare set up. The caller calls it once, after
// every Run has returned, also when the run failed or was cancelled; a
// Run after Cleanup is an error. Cleanup must succeed for a workspace whose
// steps were all killed.
type Workspace interface {
	Run(ctx context.Context, step Step) (Result, error)
	Cleanup(ctx context.Context) error
}
