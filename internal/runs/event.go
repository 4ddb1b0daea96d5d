package runs

import (
	"time"

	"github.com/velocity-ci/velocity/internal/store"
)

// Cursor is the position of an event in its run's stream: the Seq of the
// last event a watcher has seen; 0 is before the first. Watch(id, c)
// delivers the events after c.
type Cursor int64

// Kind names an event's type; it is the "kind" field of the JSON form.
type Kind string

// The kinds of events, in the order a run usually produces them.
const (
	KindRunStarted      Kind = "run_started"
	KindMessage         Kind = "message"
	KindAttemptStarted  Kind = "attempt_started"
	KindOutput          Kind = "output"
	KindAttemptFinished Kind = "attempt_finished"
	KindActionSkipped   Kind = "action_skipped"
	KindApprovalWaiting Kind = "approval_waiting"
	KindApprovalDecided Kind = "approval_decided"
	KindDeployed        Kind = "deployed"
	KindRunFinished     Kind = "run_finished"
)

// Event is one thing that happened to a run. Exactly one of the pointer
// fields is set, the one Kind names; the JSON form is what the HTTP API
// streams, so field names are fixed.
type Event struct {
	Seq   Cursor    `json:"seq"`
	RunID int64     `json:"run_id"`
	Time  time.Time `json:"time"`
	Kind  Kind      `json:"kind"`

	RunStarted      *RunStarted      `json:"run_started,omitempty"`
	Message         *Message         `json:"message,omitempty"`
	AttemptStarted  *AttemptStarted  `json:"attempt_started,omitempty"`
	Output          *Output          `json:"output,omitempty"`
	AttemptFinished *AttemptFinished `json:"attempt_finished,omitempty"`
	ActionSkipped   *ActionSkipped   `json:"action_skipped,omitempty"`
	ApprovalWaiting *ApprovalWaiting `json:"approval_waiting,omitempty"`
	ApprovalDecided *ApprovalDecided `json:"approval_decided,omitempty"`
	Deployed        *Deployed        `json:"deployed,omitempty"`
	RunFinished     *RunFinished     `json:"run_finished,omitempty"`
}

// RunStarted opens every stream: the run and the shape of what it
// executes, so that a renderer needs no plan.
type RunStarted struct {
	Project   string `json:"project"`
	Commit    string `json:"commit,omitempty"`
	Branch    string `json:"branch,omitempty"`
	Dirty     bool   `json:"dirty,omitempty"`
	Workspace string `json:"workspace,omitempty"`
	// Trigger says who or what started the run; "" for the command line.
	Trigger string  `json:"trigger,omitempty"`
	Stages  []Stage `json:"stages"`
	// Selection is set for a partial run.
	Selection *Selection `json:"selection,omitempty"`
}

// Stage is one stage of the run's plan with the actions the run takes.
type Stage struct {
	Index   int      `json:"index"`
	Name    string   `json:"name"`
	Actions []Action `json:"actions"`
}

// Action is one action of the run's plan.
type Action struct {
	// ID is "stage/name", how events name the action.
	ID   string `json:"id"`
	Name string `json:"name"`
	// Kind is "action", "on_failure" or "finally".
	Kind         string   `json:"kind"`
	Needs        []string `json:"needs,omitempty"`
	Attempts     int      `json:"attempts"`
	AllowFailure bool     `json:"allow_failure,omitempty"`
}

// Selection describes a partial run.
type Selection struct {
	Only []string `json:"only,omitempty"`
	Skip []string `json:"skip,omitempty"`
	// Description is the selection in words ("build/test and what it needs").
	Description string `json:"description"`
	Selected    int    `json:"selected"`
	Total       int    `json:"total"`
	// PulledIn lists the actions added because selected ones need them,
	// one line per selected action: "build/test (needed by staging/deploy)".
	PulledIn []string `json:"pulled_in,omitempty"`
}

// Message is a line for the people watching: a note about the run, a
// warning, a log record, a cache-miss reason.
type Message struct {
	// Action names the action the message is about ("stage/name").
	Action string `json:"action,omitempty"`
	// Level is "debug", "info", "warning" or "error" for log records and
	// warnings; "" for notes.
	Level string `json:"level,omitempty"`
	// Text is one or more lines without the final newline. A note with
	// neither Action nor Level is shown as it is.
	Text string `json:"text"`
}

// AttemptStarted says an attempt of an action began.
type AttemptStarted struct {
	Action  string `json:"action"`
	Attempt int    `json:"attempt"`
	// Of is how many attempts the action may take.
	Of int `json:"of"`
}

// Output is one line an attempt wrote, without its newline.
type Output struct {
	Action  string `json:"action"`
	Attempt int    `json:"attempt"`
	// Stream is "combined": actions' stdout and stderr share one log.
	Stream string `json:"stream"`
	Text   string `json:"text"`
}

// AttemptFinished says how an attempt ended; Final is false when another
// attempt follows.
type AttemptFinished struct {
	Action   string       `json:"action"`
	Attempt  int          `json:"attempt"`
	Status   store.Status `json:"status"`
	ExitCode int          `json:"exit_code"`
	Reason   string       `json:"reason,omitempty"`
	Started  time.Time    `json:"started"`
	Finished time.Time    `json:"finished"`
	Final    bool         `json:"final"`
}

// ActionSkipped says an action will not run at all.
type ActionSkipped struct {
	Action string       `json:"action"`
	Status store.Status `json:"status"`
	Reason string       `json:"reason,omitempty"`
}

// ApprovalWaiting says a stage waits for someone to call Approve.
type ApprovalWaiting struct {
	Stage string `json:"stage"`
}

// ApprovalDecided says how a stage's approval was decided, and by whom.
type ApprovalDecided struct {
	Stage  string               `json:"stage"`
	Status store.ApprovalStatus `json:"status"`
	By     string               `json:"by"`
}

// Deployed lists what the run deployed, after it finished. Hosted is
// true when the process that ran it serves the services (until the run
// is cancelled); otherwise Host ("velocity serve", or a velocity run that
// hosts) at Server keeps them running.
type Deployed struct {
	Hosted bool     `json:"hosted"`
	Host   string   `json:"host,omitempty"`
	Server string   `json:"server,omitempty"`
	URLs   []string `json:"urls"`
}

// RunFinished says how the run ended. Events after it (hosting deployed
// services) may follow until the stream ends.
type RunFinished struct {
	Status store.Status `json:"status"`
	Reason string       `json:"reason,omitempty"`
	// Error is set when the run stopped for a reason of Velocity's own
	// (the journal could not be written), not the pipeline's.
	Error string `json:"error,omitempty"`
}
