// Package executor defines how the engine has one attempt of an action
// executed, independent of where it runs (host processes, containers).
//
// Implementations live in subpackages and all pass the conformance suite in
// executortest.
package executor

import (
	"context"
	"io"
	"time"
)

// Step is one attempt of an action.
type Step struct {
	// Name identifies the step in errors, e.g. "build/test#1".
	Name string
	// Script is the shell script to run. It is passed to the shell as an
	// argument, never interpolated, so it may contain anything.
	Script string
	// Env is the complete environment ("KEY=value"); nothing is inherited.
	Env []string
	// Dir is the working directory.
	Dir string
	// Output receives the combined stdout and stderr as it is produced.
	// Write is called from one goroutine at a time; it must not block for
	// long, since the step's process blocks when its pipe fills.
	Output io.Writer
	// KillGrace is how long a step has to exit after SIGTERM (sent when
	// ctx ends) before it and everything it started is killed.
	KillGrace time.Duration
}

// Result is how an attempt ended.
type Result struct {
	// ExitCode is the shell's exit status; -1 when it died by a signal.
	ExitCode int
	// Signal names the signal that ended it, if any ("terminated", "killed").
	Signal string
	// Stopped is true when the step was ended because ctx was done.
	Stopped  bool
	Started  time.Time
	Finished time.Time
}

// Executor runs steps.
//
// Run blocks until the step's process has exited, every process it started
// is gone and its output has been delivered. It may be called from many
// goroutines at once. Cancelling ctx asks the step to stop (SIGTERM to all
// its processes), then forces it after Step.KillGrace. The returned error is
// for failures to run at all (no shell, bad directory); a script that exits
// non-zero is a Result, not an error.
type Executor interface {
	Run(ctx context.Context, step Step) (Result, error)
}
