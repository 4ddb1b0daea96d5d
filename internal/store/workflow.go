package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrExists is wrapped by every attempt to record something whose name is
// already taken (an execution ARN, an event ID).
var ErrExists = errors.New("already exists")

// ErrLimit is wrapped by every refusal to record something that would
// break a limit (see TreeLimits).
var ErrLimit = errors.New("limit exceeded")

// TreeLimits bound the tree of executions that a root execution starts
// through its tasks (startExecution), and their children in turn: a
// state machine that starts itself would otherwise nest without end.
// Zero fields take the defaults.
type TreeLimits struct {
	// MaxDepth is how deep executions nest below their root: the root's
	// children are at depth 1. Default DefaultMaxTreeDepth.
	MaxDepth int
	// MaxExecutions is how many executions one tree holds, its root
	// included, whether they have ended or not. Default
	// DefaultMaxTreeExecutions.
	MaxExecutions int
}

// Defaults of TreeLimits. Step Functions documents no nesting limit, only
// per-account quotas on open executions; locally every nested execution
// runs in the process (and on the machine) of its root. Ten levels is
// far more than a design of parent, child and grandchild workflows uses,
// and cuts off runaway recursion after 11 executions; a thousand per tree
// leaves room for a Map that starts a child per item.
const (
	DefaultMaxTreeDepth      = 10
	DefaultMaxTreeExecutions = 1000
)

// Depth is MaxDepth or its default.
func (l TreeLimits) Depth() int {
	if l.MaxDepth > 0 {
		return l.MaxDepth
	}
	return DefaultMaxTreeDepth
}

// Executions is MaxExecutions or its default.
func (l TreeLimits) Executions() int {
	if l.MaxExecutions > 0 {
		return l.MaxExecutions
	}
	return DefaultMaxTreeExecutions
}

// TreeLimitError is CreateChild's refusal: the child would break Limit
// (MaxDepth or MaxExecutions) of the tree of Root.
type TreeLimitError struct {
	Limit string
	Value int
	Root  string
}

func (e *TreeLimitError) Error() string {
	if e.Limit == "MaxDepth" {
		return fmt.Sprintf("the execution would nest more than %d deep below its root %s (workflow tree limit MaxDepth = %d)", e.Value, e.Root, e.Value)
	}
	return fmt.Sprintf("the tree of root execution %s holds %d executions already (workflow tree limit MaxExecutions = %d)", e.Root, e.Value, e.Value)
}

func (e *TreeLimitError) Unwrap() error { return ErrLimit }

// ExecutionStatus is where a workflow execution stands, named as Step
// Functions names it, plus PENDING for an execution waiting for a slot of
// its concurrency key.
type ExecutionStatus string

// Execution statuses. An execution is created PENDING, becomes RUNNING
// when it has a slot (at once without a concurrency key) and ends in one
// of the final statuses; a redrive makes a final one PENDING again.
const (
	ExecutionPending   ExecutionStatus = "PENDING"
	ExecutionRunning   ExecutionStatus = "RUNNING"
	ExecutionSucceeded ExecutionStatus = "SUCCEEDED"
	ExecutionFailed    ExecutionStatus = "FAILED"
	ExecutionTimedOut  ExecutionStatus = "TIMED_OUT"
	ExecutionAborted   ExecutionStatus = "ABORTED"
)

// Final reports whether s can no longer change (except by a redrive).
func (s ExecutionStatus) Final() bool {
	return s != ExecutionPending && s != ExecutionRunning
}

// Execution is one execution of a state machine.
type Execution struct {
	// ID orders executions by creation; ARN is the Step Functions name
	// of the execution (arn:aws:states:REGION:ACCOUNT:execution:SM:NAME).
	ID           int64  `json:"id"`
	ARN          string `json:"arn"`
	Name         string `json:"name"`
	StateMachine string `json:"state_machine"`
	// Definition is the state machine's source and Input the execution's
	// input (JSON), as the execution was started with.
	Definition []byte          `json:"definition"`
	Input      []byte          `json:"input"`
	Status     ExecutionStatus `json:"status"`
	// Output (JSON) is set when it succeeded; Error and Cause when it
	// failed, timed out or was aborted.
	Output []byte `json:"output"`
	Error  string `json:"error"`
	Cause  string `json:"cause"`
	// At most ConcurrencyLimit executions with the same non-empty
	// ConcurrencyKey run at a time; the others wait PENDING, first
	// queued first run.
	ConcurrencyKey   string `json:"concurrency_key"`
	ConcurrencyLimit int    `json:"concurrency_limit"`
	// Parent is the ARN of the execution whose task started this one.
	Parent string `json:"parent"`
	// Lock is the file the owning process holds locked while it runs
	// the execution; a lock that can be taken means the owner is gone.
	Lock string `json:"lock"`
	// Options is how to run the execution again after a restart
	// (bindings, mocks, directory), opaque to the store (JSON).
	Options []byte `json:"options"`
	// StopRequested is set by RequestStop for the owner to act on, with
	// the error and cause to stop with.
	StopRequested bool      `json:"stop_requested"`
	StopError     string    `json:"stop_error"`
	StopCause     string    `json:"stop_cause"`
	RedriveCount  int       `json:"redrive_count"`
	Created       time.Time `json:"created"`
	Started       time.Time `json:"started"`
	Stopped       time.Time `json:"stopped"`
	Redriven      time.Time `json:"redriven"`
}

// Event is one history event of an execution. Body is the whole event
// (JSON) as the interpreter wrote it; Type and At are copies the store
// can query without decoding it.
type Event struct {
	ID   int64     `json:"id"`
	Type string    `json:"type"`
	At   time.Time `json:"at"`
	Body []byte    `json:"body"`
}

// TokenStatus is where a task token stands.
type TokenStatus string

// Task token statuses: waiting until `velocity workflow task success` or
// `failure` completes it.
const (
	TokenWaiting   TokenStatus = "waiting"
	TokenSucceeded TokenStatus = "succeeded"
	TokenFailed    TokenStatus = "failed"
)

// TaskToken is the token of a .waitForTaskToken task and its outcome.
type TaskToken struct {
	Token       string      `json:"token"`
	ExecutionID int64       `json:"execution_id"`
	State       string      `json:"state"`
	Status      TokenStatus `json:"status"`
	// Output (JSON) of a success; Error and Cause of a failure.
	Output []byte `json:"output"`
	Error  string `json:"error"`
	Cause  string `json:"cause"`
	// Heartbeat is the time of the last heartbeat, zero if none came.
	Heartbeat time.Time `json:"heartbeat"`
	Created   time.Time `json:"created"`
	Updated   time.Time `json:"updated"`
}

// ExecutionFilter narrows Executions.
type ExecutionFilter struct {
	// StateMachine and Status, when set, keep only those executions.
	StateMachine string
	Status       ExecutionStatus
	// Parent, when set, keeps only the children of that execution.
	Parent string
	// Name, when set, keeps only executions with that name.
	Name string
	// Limit caps the number of executions, newest first; 0 means 100.
	Limit int
}

// Workflows is the workflow journal, kept beside the Store by the same
// implementations and checked by the storetest suite. Methods are safe for
// concurrent use, also from several processes, and durable when they
// return nil; naming an execution or token that does not exist returns an
// error wrapping ErrNotFound.
type Workflows interface {
	// CreateExecution records e (its ID ignored) PENDING at the end of
	// its key's queue and returns its ID. An ARN already recorded is an
	// error wrapping ErrExists.
	CreateExecution(ctx context.Context, e Execution) (int64, error)
	// CreateChild records e, a child of the execution e.Parent (an ARN),
	// like CreateExecution, atomically with respect to every other
	// process: unless it would break limits (a *TreeLimitError, wrapping
	// ErrLimit), and stopped from the start (StopRequested) when its
	// parent's stop was requested or its parent was ABORTED, so that a
	// child started while its tree stops cannot escape the stop. A
	// parent that does not exist wraps ErrNotFound.
	CreateChild(ctx context.Context, e Execution, limits TreeLimits) (int64, error)
	// ClaimExecution makes a PENDING execution RUNNING if it may run now:
	// it has no concurrency key, or fewer than its limit of its key's
	// executions are running and none queued before it still waits. It
	// reports whether the execution is running (also when it already
	// was), atomically with respect to every other process.
	ClaimExecution(ctx context.Context, id int64, at time.Time) (bool, error)
	// FinishExecution gives a live execution its final status with the
	// output (succeeded) or error and cause; an execution that is not
	// live is an error wrapping ErrNotFound.
	FinishExecution(ctx context.Context, id int64, status ExecutionStatus, output []byte, errName, cause string, at time.Time) error
	// RequestStop asks a live execution's owner to stop it with errName
	// and cause, and with it every live execution below it (its
	// children, theirs…), whose cause names it; an execution that is not
	// live wraps ErrNotFound. It returns how many executions below it
	// were asked.
	RequestStop(ctx context.Context, id int64, errName, cause string) (int, error)
	// Redrive makes a FAILED, TIMED_OUT or ABORTED execution PENDING
	// again at the end of its key's queue, counts the redrive and clears
	// its error; other statuses wrap ErrNotFound.
	Redrive(ctx context.Context, id int64, lock string, at time.Time) error
	// Execution returns one execution; ExecutionByARN finds it by ARN.
	Execution(ctx context.Context, id int64) (Execution, error)
	ExecutionByARN(ctx context.Context, arn string) (Execution, error)
	// Executions lists executions, newest first.
	Executions(ctx context.Context, f ExecutionFilter) ([]Execution, error)
	// LiveExecutions lists PENDING and RUNNING executions, oldest first.
	LiveExecutions(ctx context.Context) ([]Execution, error)

	// AppendEvents adds events to an execution's history. Calls from
	// many goroutines at once share one transaction (group commit); each
	// returns only once its own events are durable. An event ID already
	// recorded is an error wrapping ErrExists.
	AppendEvents(ctx context.Context, executionID int64, events []Event) error
	// Events returns an execution's history in ID order.
	Events(ctx context.Context, executionID int64) ([]Event, error)

	// CreateTaskToken records a waiting token.
	CreateTaskToken(ctx context.Context, t TaskToken) error
	// CompleteTaskToken records a waiting token's success (output) or
	// failure (errName, cause); a token that is not waiting wraps
	// ErrNotFound.
	CompleteTaskToken(ctx context.Context, token string, status TokenStatus, output []byte, errName, cause string, at time.Time) error
	// HeartbeatTaskToken records a heartbeat of a waiting token.
	HeartbeatTaskToken(ctx context.Context, token string, at time.Time) error
	// TaskToken returns a token with its outcome.
	TaskToken(ctx context.Context, token string) (TaskToken, error)
	// TaskTokens lists an execution's tokens in the order they were created.
	TaskTokens(ctx context.Context, executionID int64) ([]TaskToken, error)
}
