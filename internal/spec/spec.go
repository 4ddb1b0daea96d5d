// Package spec reads velocity.yml: the types users write, parsing with
// positions, validation that reports every error of a file at once, and
// defaults. It knows nothing about how pipelines are executed.
package spec

import "time"

// FileName is the definition file looked for at a project's root.
const FileName = "velocity.yml"

// Pos is a 1-based position in the definition file.
type Pos struct {
	Line int `json:"Line"`
	Col  int `json:"Col"`
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
	// Services and Environments, in definition order.
	Services     []Service
	Environments []Environment
	// PortRange bounds the ports of the project's sidecars and deployed
	// instances; zero when not set (any free port).
	PortRange PortRange `json:"PortRange,omitzero"`
	// Schedules start runs at cron times when the pipeline is served
	// (schedules.go).
	Schedules []Schedule `json:"Schedules,omitempty"`
	// Image (`image:`) is the container image every script action runs
	// in unless it names its own, or `image: host` to run on the host
	// (images.go). Empty runs actions on the host.
	Image string `json:",omitempty"`
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
	// Approval "manual" holds the stage until `velocity approve RUN`.
	Approval string
	// If, when set, is evaluated when the stage is about to start; when
	// it is false the stage's actions are skipped and the next stage
	// starts as after a success. It cannot use the status functions.
	If *Condition `json:",omitempty"`
}

// Action is one unit of work.
type Action struct {
	Name string
	Pos  Pos
	// Deploy names a service to deploy to Environment instead of running
	// a script; exactly one of Run, Deploy, Workflow and Build is set.
	Deploy      string
	Environment string
	// Workflow, when set, starts an execution of a state machine of the
	// project instead of running a script (workflow.go).
	Workflow *Workflow `json:",omitempty"`
	// Build, when set, builds a container image instead of running a
	// script (build.go).
	Build *Build `json:",omitempty"`
	// Run is a shell script, run with `bash -eo pipefail` (or `sh -e`
	// where bash is missing) in the run's workspace.
	Run string
	// Image (`image: REF`) runs the script in a container of that image,
	// with the workspace mounted at its own path; `image: host` runs it
	// on the host even when the pipeline names a default image. Empty
	// takes the pipeline's Image. See RunsIn.
	Image string `json:",omitempty"`
	// User (`user: NAME|UID[:GID]`) is who the script runs as in its
	// image; empty is the uid:gid Velocity runs as, so that what the
	// action writes in the workspace stays Velocity's.
	User string `json:",omitempty"`
	// Memory (bytes) and CPU (cores) cap each attempt of the script
	// (`memory: 512M`, `cpu: 1.5`); only an action in an image can be
	// capped (the container's cgroup), so they need one. 0: no cap.
	Memory int64   `json:",omitempty"`
	CPU    float64 `json:",omitempty"`
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

	// Outputs are globs (relative to the workspace; ** matches any number
	// of directories) of the files the action produces. After success they
	// are stored content-addressed and recorded with the run; a cache hit
	// restores them.
	Outputs []string
	// Inputs are globs of the files the action reads, hashed into its
	// result-cache key. Nil means every file of the run's snapshot, so a
	// cache hit is always safe.
	Inputs []string
	// NoResultCache (`cache: false`) opts the action out of the result
	// cache: it always executes.
	NoResultCache bool
	// CachePaths (`cache: [paths]`) are dependency-cache directories or
	// files (e.g. node_modules, .cache/go-build) restored before the action
	// starts and saved after it succeeds.
	CachePaths []string
	// CacheKey (`cache_key: [files]`) lists files whose contents key the
	// dependency cache (e.g. package-lock.json); without an exact match the
	// most recent entry of the action is restored, like restore-keys.
	CacheKey []string
	// Secrets names the stored secrets the action receives as environment
	// variables of the same name.
	Secrets []string
	// Sidecars are helper programs (a database, a cache) started before
	// the action and stopped after it, whatever the outcome.
	Sidecars []Sidecar
	// Matrix, when set, makes the action one action per cell; needs
	// naming the action wait for every cell.
	Matrix *Matrix `json:",omitempty"`
	// If, when set, is evaluated when the action is ready; a false
	// condition skips it. Without one of the status functions (success(),
	// failure(), always(), cancelled()) an action runs only when every
	// action before it succeeded.
	If *Condition `json:",omitempty"`
}

// Sidecar is a helper program an action's commands talk to.
type Sidecar struct {
	Name string
	Pos  Pos
	// Run is a shell script that starts the program in the foreground,
	// listening on $PORT (a free port Velocity picked). It runs in its own
	// empty directory, $VELOCITY_SIDECAR_DIR. With Image it is optional:
	// without it the container runs the image's own command.
	Run string
	// Image (`image: REF`) runs the sidecar as a container of that image
	// on the run's network, where containerised actions reach it by its
	// name (images.go).
	Image string `json:",omitempty"`
	// Port (`port: N`) is the port the image's program listens on, which
	// readiness polls and NAME_PORT gives; required with Image.
	Port int `json:",omitempty"`
	// Env is added to the sidecar's environment.
	Env map[string]string
	// Ready says when the sidecar can be used; the zero value waits for
	// $PORT to accept TCP connections.
	Ready Ready
}

// Ready is a sidecar's readiness check.
type Ready struct {
	// Run, when set, is a shell script polled until it exits 0 (e.g.
	// `redis-cli -p $PORT ping`); otherwise the TCP port is polled.
	Run string
	// Timeout bounds the wait; default 30s.
	Timeout time.Duration
	// Interval between polls; default 100ms.
	Interval time.Duration
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
