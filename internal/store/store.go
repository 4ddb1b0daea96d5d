// Package store holds the journal's records — runs, their actions and each
// attempt — and the Store contract that the SQLite (and later PostgreSQL)
// implementations satisfy, checked by the storetest suite.
package store

import (
	"context"
	"time"

	"github.com/velocity-ci/velocity/internal/fault"
)

// ErrNotFound is wrapped by every lookup of a record that does not exist.
// It is the kind fault.NotFound itself, so adapters map it with every
// other missing thing.
var ErrNotFound = fault.NotFound

// Status is the state of a run, an action or an attempt.
type Status string

// Statuses. A record moves from pending to running to one of the final ones.
const (
	Pending     Status = "pending"
	Running     Status = "running"
	Succeeded   Status = "succeeded"
	Failed      Status = "failed"
	Cancelled   Status = "cancelled"
	Skipped     Status = "skipped"
	Interrupted Status = "interrupted"
	// Cached means the action's result was taken from an earlier run
	// instead of executing it; it counts as success.
	Cached Status = "cached"
)

// Final reports whether s can no longer change.
func (s Status) Final() bool {
	return s != Pending && s != Running
}

// OK reports whether s lets dependents proceed: succeeded or cached.
func (s Status) OK() bool {
	return s == Succeeded || s == Cached
}

// Run is one execution of a project's pipeline.
type Run struct {
	ID      int64  `json:"id"`
	Project string `json:"project"`
	// Dir is the project directory the run was started from.
	Dir    string `json:"dir"`
	Commit string `json:"commit"`
	// CommitTime is the commit's committer date, zero outside git: when
	// the change was made, which lead time for changes counts from.
	CommitTime time.Time `json:"commit_time"`
	Branch     string    `json:"branch"`
	Dirty      bool      `json:"dirty"`
	Status     Status    `json:"status"`
	// Reason explains a final status other than succeeded.
	Reason string `json:"reason"`
	// Lock is the file the owning process holds locked while the run is
	// live; a lock that can be taken means the owner is gone.
	Lock string `json:"lock"`
	// Workspace is the directory the run worked in. It is kept after the
	// run, and the project's next run in the same slot brings it back to
	// its snapshot.
	Workspace string    `json:"workspace"`
	Created   time.Time `json:"created"`
	Finished  time.Time `json:"finished"`
	// Selection is what a partial run was asked to run; zero for a run of
	// the whole pipeline. Only the actions it took are the run's actions.
	Selection Selection `json:"selection"`
	// Trigger says who or what started the run ("push by alice",
	// "webhook delivery 1234 (github, push by bob)", "poll"); "" for a
	// run started from the command line.
	Trigger string `json:"trigger"`
}

// Selection is the patterns of a partial run (velocity run NAME…,
// --only, --skip), as the user gave them.
type Selection struct {
	Only []string `json:"only,omitempty"`
	Skip []string `json:"skip,omitempty"`
}

// Partial reports whether the run was of part of the pipeline.
func (s Selection) Partial() bool { return len(s.Only) > 0 || len(s.Skip) > 0 }

// Kind tells which list of its stage an action belongs to.
type Kind string

// Action kinds.
const (
	KindAction    Kind = "action"
	KindOnFailure Kind = "on_failure"
	KindFinally   Kind = "finally"
)

// Action is one action of a run, in definition order.
type Action struct {
	RunID      int64    `json:"run_id"`
	StageIndex int      `json:"stage_index"`
	Stage      string   `json:"stage"`
	Name       string   `json:"name"`
	Kind       Kind     `json:"kind"`
	Needs      []string `json:"needs"`
	Status     Status   `json:"status"`
	// AllowFailure marks a failure that did not fail the stage.
	AllowFailure bool      `json:"allow_failure"`
	ExitCode     int       `json:"exit_code"`
	Attempts     int       `json:"attempts"`
	Reason       string    `json:"reason"`
	Started      time.Time `json:"started"`
	Finished     time.Time `json:"finished"`
	// CacheKey is the result-cache key the action ran (or hit) under.
	CacheKey string `json:"cache_key"`
	// CachedFrom is the run whose result a cached action reused.
	CachedFrom int64 `json:"cached_from"`
}

// Key names an action within its run.
type Key struct {
	Stage string
	Name  string
}

// Key returns the action's key.
func (a Action) Key() Key { return Key{a.Stage, a.Name} }

// Attempt is one execution of an action.
type Attempt struct {
	RunID    int64  `json:"run_id"`
	Stage    string `json:"stage"`
	Action   string `json:"action"`
	N        int    `json:"n"`
	Status   Status `json:"status"`
	ExitCode int    `json:"exit_code"`
	Reason   string `json:"reason"`
	// Log is the path of the attempt's output on disk.
	Log      string    `json:"log"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// CacheKey and CachedFrom are copied to the action by a final
	// FinishAttempt; see Action.
	CacheKey   string `json:"cache_key"`
	CachedFrom int64  `json:"cached_from"`
	// KeyParts is what went into CacheKey, as the engine encodes it (a
	// JSON document with a format version), recorded by FinishAttempt so
	// that a later miss can be explained; nil when no key was computed.
	KeyParts []byte `json:"key_parts"`
}

// AttemptEnd is how an attempt ended, as FinishAttempt records it.
type AttemptEnd struct {
	Attempt      Attempt
	Final        bool
	AllowFailure bool
}

// AttemptRecorder is a Store that records the ends of attempts and the
// start of the next one in one commit: what FinishAttempt for each end,
// then StartAttempt, record, all or nothing. A commit costs more than
// the statements in it (SQLite writes every page it changed to the WAL
// per commit, and the end and the start of two attempts of a chain change
// the same pages), and an engine running a chain of actions ends one
// attempt just before it starts the next.
type AttemptRecorder interface {
	// RecordAttempts records ends, in order, then, unless nil, started.
	RecordAttempts(ctx context.Context, ends []AttemptEnd, started *Attempt) error
}

// KeyParts is the key record of one action of one run.
type KeyParts struct {
	RunID  int64  `json:"run_id"`
	Stage  string `json:"stage"`
	Action string `json:"action"`
	Status Status `json:"status"`
	// CacheKey and CachedFrom are the action's; see Action.
	CacheKey   string `json:"cache_key"`
	CachedFrom int64  `json:"cached_from"`
	// Body is the last attempt's Attempt.KeyParts; nil when none was
	// recorded (older Velocity, an interrupted attempt).
	Body []byte `json:"body"`
}

// Output is a file an action produced, stored in the blob store.
// Deployments journal their files as JSON, with the Go field names as keys
// since before they were tagged: a renamed field keeps its key.
type Output struct {
	Stage  string `json:"Stage"`
	Action string `json:"Action"`
	// Path is slash-separated, relative to the workspace.
	Path   string `json:"Path"`
	Mode   uint32 `json:"Mode"`
	Size   int64  `json:"Size"`
	Digest string `json:"Digest"`
	// Link is the target when the output is a symlink.
	Link string `json:"Link"`
}

// Image is a container image a build action of a run produced: the
// reference later actions, releases and pushes use. Its JSON keys are
// fixed: releases may keep it.
type Image struct {
	Stage  string `json:"stage"`
	Action string `json:"action"`
	// ID is the engine's image ID, "sha256:...".
	ID string `json:"id"`
	// Tags are the names the image was given, NAME:TAG.
	Tags []string `json:"tags"`
	// Pushed are the references pushed to a registry, HOST/NAME:TAG.
	Pushed []string `json:"pushed,omitempty"`
}

// Result is a result-cache entry: an action key and the run whose
// outputs and log can stand in for executing the action.
type Result struct {
	Key    string `json:"key"`
	RunID  int64  `json:"run_id"`
	Stage  string `json:"stage"`
	Action string `json:"action"`
	// Log is the digest of the original attempt's log in the blob store.
	Log     string    `json:"log"`
	Created time.Time `json:"created"`
	Used    time.Time `json:"used"`
}

// Approval is the decision on a stage that needs manual approval.
type Approval struct {
	RunID int64  `json:"run_id"`
	Stage string `json:"stage"`
	// Status is Pending, Approved or Rejected.
	Status ApprovalStatus `json:"status"`
	// By says who or what decided ("velocity approve", "terminal", ...).
	By string    `json:"by"`
	At time.Time `json:"at"`
}

// ApprovalStatus is where an approval stands.
type ApprovalStatus string

// Approval statuses.
const (
	ApprovalPending ApprovalStatus = "pending"
	Approved        ApprovalStatus = "approved"
	Rejected        ApprovalStatus = "rejected"
)

// DepCache is a saved dependency cache (an archive in the blob store).
type DepCache struct {
	Scope   string    `json:"scope"`
	Key     string    `json:"key"`
	Digest  string    `json:"digest"`
	Size    int64     `json:"size"`
	Created time.Time `json:"created"`
}

// RunFilter narrows Runs.
type RunFilter struct {
	// Project, when set, keeps only that project's runs.
	Project string
	// Limit caps the number of runs, newest first; 0 means 50.
	Limit int
}

// Store is the journal. Every method is safe for concurrent use and has
// written its change durably (surviving a crash of the process) when it
// returns nil. Methods naming a record that does not exist return an error
// wrapping ErrNotFound.
type Store interface {
	// CreateRun records a new run with all its actions pending and
	// returns the run's ID. r.ID is ignored.
	CreateRun(ctx context.Context, r Run, actions []Action) (int64, error)
	// FinishRun sets a run's final status.
	FinishRun(ctx context.Context, id int64, status Status, reason string, at time.Time) error
	// StartAttempt marks the action running and records attempt a.
	StartAttempt(ctx context.Context, a Attempt) error
	// FinishAttempt records how attempt a ended; when final, the action
	// takes the attempt's status, exit code, reason and end time, with
	// allowFailure noted.
	FinishAttempt(ctx context.Context, a Attempt, final, allowFailure bool) error
	// SetActions gives the named actions of a run a final status without
	// an attempt (skipped, cancelled).
	SetActions(ctx context.Context, runID int64, keys []Key, status Status, reason string, at time.Time) error
	// Run returns one run.
	Run(ctx context.Context, id int64) (Run, error)
	// Runs lists runs, newest first.
	Runs(ctx context.Context, f RunFilter) ([]Run, error)
	// Actions lists a run's actions in definition order.
	Actions(ctx context.Context, runID int64) ([]Action, error)
	// Attempts lists a run's attempts in the order they started.
	Attempts(ctx context.Context, runID int64) ([]Attempt, error)
	// LiveRuns lists runs whose status is not final.
	LiveRuns(ctx context.Context) ([]Run, error)
	// Interrupt marks a run, its running actions and attempts interrupted
	// and its pending actions skipped, all at once.
	Interrupt(ctx context.Context, id int64, reason string, at time.Time) error

	// SetOutputs records the files an action of a run produced,
	// replacing any recorded before.
	SetOutputs(ctx context.Context, runID int64, k Key, files []Output) error
	// Outputs lists a run's recorded outputs by stage, action and path.
	Outputs(ctx context.Context, runID int64) ([]Output, error)
	// SetImage records the image a build action of a run produced (or
	// took from the result cache), replacing any recorded before.
	SetImage(ctx context.Context, runID int64, img Image) error
	// Images lists the images a run's build actions produced, in
	// definition order.
	Images(ctx context.Context, runID int64) ([]Image, error)

	// SaveResult adds or replaces a result-cache entry.
	SaveResult(ctx context.Context, r Result) error
	// Result looks a key up and marks the entry used.
	Result(ctx context.Context, key string) (Result, error)
	// DeleteResult drops an entry whose blobs turned out missing or corrupt.
	DeleteResult(ctx context.Context, key string) error
	// KeyParts returns the key record of action k of a run.
	KeyParts(ctx context.Context, runID int64, k Key) (KeyParts, error)
	// LastSuccess returns the key record of the newest run of project
	// before run before in which action k succeeded or was cached under a
	// cache key (so not with --no-cache or cache: false).
	LastSuccess(ctx context.Context, project string, k Key, before int64) (KeyParts, error)

	// SaveDepCache adds or replaces a dependency cache entry.
	SaveDepCache(ctx context.Context, c DepCache) error
	// DepCache returns the entry of scope with key, or when there is none
	// the newest entry of scope (exact reports which).
	DepCache(ctx context.Context, scope, key string) (c DepCache, exact bool, err error)

	// RequestApproval records that a stage waits for approval; it keeps
	// a decision already made.
	RequestApproval(ctx context.Context, runID int64, stage string, at time.Time) error
	// Decide approves or rejects a pending approval; deciding one that is
	// not pending is an error wrapping ErrNotFound.
	Decide(ctx context.Context, a Approval) error
	// Approvals lists a run's approvals.
	Approvals(ctx context.Context, runID int64) ([]Approval, error)
	Close() error
}
