// Package spec reads velocity.yml: the types users write, parsing with
// positions, validation that reports every error of a file at once, and
// defaults. It knows nothing about how pipelines are executed.
package spec

import "time"

// FileName is the definition file looked for at a project's root.
const FileName = "velocity.yml"

// Pos is a 1-based position in the definition file.
type Pos struct {
	Line int
	Col  int
}

// Pipeline is a parsed, validated velocity.yml.
type Pipeline struct {
	// File is the path the definition was read from, used in messages.
	File string
	// Name identifies the project in run history; defaults to the
	// directory name of the project.
	Name string
	// Env is added to every action's environment.
	Env map[string]string
	// EnvPassthrough names host variables (exact names or prefixes ending
	// in "*") copied into every action's environment in addition to the
	// built-in allowlist.
	EnvPassthrough []string
	// Stages run in order; a stage starts only when the previous one
	// succeeded.
	Stages []Stage
}

// Stage is an ordered group of actions.
type Stage struct {
	Name string
	Pos  Pos
	// Actions form a DAG through their Needs.
	Actions []Action
	// OnFailure actions run after Actions only when the stage failed.
	OnFailure []Action
	// Finally actions run after Actions (and OnFailure) whatever the outcome.
	Finally []Action
}

// Action is one unit of work.
type Action struct {
	Name string
	Pos  Pos
	// Run is a shell script, run with `bash -eo pipefail` (or `sh -e`
	// where bash is missing) in the run's workspace.
	Run string
	// Needs names actions of the same list (actions, on_failure or
	// finally) of the same stage that must succeed first.
	Needs []string
	// Env is added to the action's environment, over the pipeline's.
	Env map[string]string
	// Timeout bounds each attempt; zero means no limit.
	Timeout time.Duration
	// Retry re-runs a failed attempt.
	Retry Retry
	// AllowFailure lets the stage succeed, and the action's dependents
	// start, even when this action fails.
	AllowFailure bool
}

// Retry says how often a failed action is attempted again.
type Retry struct {
	// Attempts is the total number of attempts, including the first; at
	// least 1.
	Attempts int
	// Backoff is the wait before the second attempt; each later wait
	// doubles.
	Backoff time.Duration
}
