package workflow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/velocity-ci/velocity/internal/workflow/asl"
)

// Journal makes an execution's history events durable. It is the only
// place the interpreter writes to, and it writes there before it acts on
// what an event records: a process killed at any instant leaves a history
// from which Run resumes.
//
// The interpreter assigns event IDs: consecutive from 1 in an execution, a
// resumed execution continuing after the highest recorded ID. Events of
// concurrent Map iterations and Parallel branches are gathered by one
// writer per execution, so for one execution ID Append is never called
// again before the previous call returned, and each call carries a batch
// of events in increasing ID order. Calls for different executions (child
// executions, several executions in one server) may run concurrently, and
// an implementation may commit them together.
//
// Append returns only when every event of the batch is durable, all or
// none. An error stops the execution: Run returns it without recording
// anything further, and the execution can be resumed from what was stored.
type Journal interface {
	Append(ctx context.Context, executionID string, events []Event) error
}

// Invoker runs a Task state's resource. The interpreter calls Invoke from
// the goroutine of the Map iteration or Parallel branch running the state,
// so calls may be concurrent (up to a Map's MaxConcurrency); an Invoker
// must be safe for concurrent use.
//
// ctx is cancelled when the task times out (TimeoutSeconds, whose
// deadline ctx carries), misses a heartbeat (HeartbeatSeconds) or the
// execution stops; Invoke should then return promptly, its result is
// ignored. The result is the task's output in the package's JSON form
// (package jsonvalue: *jsonvalue.Object for objects, which keep their
// member order, json.Number for numbers) or any value encoding/json can
// encode (a Go map's keys then come out sorted). An error that is, or wraps, an
// *asl.Failure fails the task with that error name and cause; any other
// error fails it with States.TaskFailed and the error's text as cause.
//
// A task is invoked at least once: a task that was in flight when the
// process died is invoked again when the execution resumes.
type Invoker interface {
	Invoke(ctx context.Context, req TaskRequest) (any, error)
}

// TaskRequest is what a Task state asks its resource to do.
type TaskRequest struct {
	// Resource is the state's Resource ARN as written in the definition.
	Resource string
	// Input is the effective input: after InputPath and Parameters, in
	// the package's JSON form (objects are *jsonvalue.Object).
	Input any
	// StateName is the Task state's name; ExecutionID, ExecutionARN and
	// StateMachineARN say which execution asks.
	StateName       string
	ExecutionID     string
	ExecutionARN    string
	StateMachineARN string
	// Attempt counts from 0; it is the state's $$.State.RetryCount.
	Attempt int
	// ScheduledEventID is the ID of the attempt's TaskScheduled (or
	// LambdaFunctionScheduled) event. It is the same when a resumed
	// execution invokes an in-flight task again, so a resource can use
	// ExecutionID and ScheduledEventID to make its effect happen once
	// (name a child execution after them, say).
	ScheduledEventID int64
	// TaskToken is set when Resource ends with ".waitForTaskToken": the
	// invoker hands the token on (it is also in $$.Task.Token for
	// Parameters) and Invoke returns only when the token is completed
	// (SendTaskSuccess/Failure) or ctx is done. A resumed execution
	// reuses the token recorded when the task was scheduled.
	TaskToken string
	// Heartbeat is called by the invoker for each heartbeat it receives
	// (SendTaskHeartbeat); with HeartbeatSeconds set, a task without a
	// heartbeat for that long fails (reported as States.Timeout, as Step
	// Functions does; Retry and Catch may name it
	// States.HeartbeatTimeout). Safe to call from any goroutine, never nil.
	Heartbeat func()
	// Submitted is called by a resource that runs a job to its end (the
	// .sync patterns) once the job is submitted, with the answer of the
	// call that submitted it (for a child execution {"ExecutionArn",
	// "StartDate"}); it is recorded as TaskSubmitted, between TaskStarted
	// and the task's result, as Step Functions records it, and is
	// durable when Submitted returns. Only the first call of an attempt
	// counts: later ones, and those of an in-flight task invoked again
	// after a resume whose submission was recorded, are ignored. Safe to
	// call from any goroutine while Invoke runs, never nil.
	Submitted func(output any)
	// TimeoutSeconds and HeartbeatSeconds are the state's effective
	// values, 0 when not set.
	TimeoutSeconds   int64
	HeartbeatSeconds int64
	// Credentials is the state's Credentials field evaluated against the
	// state's input (after InputPath), or nil when it has none: on Step
	// Functions {"RoleArn": "arn:aws:iam::…:role/…"}, the role the task
	// is to assume. A resource that calls AWS uses it; the local ones
	// (commands, HTTP, child executions) run with the user's own rights
	// and ignore it. A path in it that fails fails the state with
	// States.Runtime before the task is scheduled.
	Credentials any
}

// Interpreter runs state machines durably. Its zero value is not usable:
// Journal and Invoker are required (Invoker only for definitions with
// Task states). An Interpreter is safe for concurrent use by many Runs.
type Interpreter struct {
	Journal Journal
	Invoker Invoker
	// Clock tells time and sleeps; nil means the real clock.
	Clock Clock
	// Rand draws the random part of JitterStrategy FULL delays; nil means
	// an unseeded source. The drawn delays are recorded, so a resumed
	// execution waits what was drawn before.
	Rand Rand
	// Logger receives operational messages (resume, divergent histories);
	// nil discards them.
	Logger *slog.Logger
	// BaseDir is the directory Map ItemReader files are found in: Bucket
	// names a directory below it, Key a file below that. Empty means the
	// current directory.
	BaseDir string
	// Objects, when set, is where ItemReaders read S3 objects and
	// listings (Bucket and Key or Prefix) instead of below BaseDir.
	Objects Objects
	// Region and Account build the ARNs of $$ when Execution leaves them
	// empty; defaults "us-east-1" and "123456789012".
	Region  string
	Account string
}

// Objects reads S3 objects for Map ItemReaders. Called from the
// goroutine running the Map state; errors become States.ItemReaderFailed.
type Objects interface {
	// GetObject returns the object's content.
	GetObject(ctx context.Context, bucket, key string) ([]byte, error)
	// ListObjects lists the bucket's objects whose keys start with
	// prefix, each as {Etag, Key, LastModified, Size, StorageClass}.
	ListObjects(ctx context.Context, bucket, prefix string) ([]any, error)
}

// Execution is one run of a state machine, new or resumed.
type Execution struct {
	// ID keys the execution in the Journal.
	ID string
	// Name is the execution's name ($$.Execution.Name); empty means ID.
	Name string
	// StateMachineName names the definition ($$.StateMachine.Name).
	StateMachineName string
	// ARN and StateMachineARN default to the AWS forms built from the
	// names: arn:aws:states:REGION:ACCOUNT:execution:SM:NAME and
	// arn:aws:states:REGION:ACCOUNT:stateMachine:SM.
	ARN             string
	StateMachineARN string
	// RoleArn is reported in $$.Execution.RoleArn and ExecutionStarted,
	// where Step Functions names the execution's IAM role; empty means
	// arn:aws:iam::ACCOUNT:role/velocity. A resumed execution keeps the
	// role recorded when it started.
	RoleArn string
	// Definition is the state machine to run (decoded by asl.Load).
	Definition *asl.StateMachine
	// Input is the execution input, in the package's JSON form or any
	// value encoding/json can encode; nil means {}. When History is not
	// empty the recorded input is used instead.
	Input any
	// History is the execution's recorded events, in ID order, as the
	// Journal stored them. Empty starts a new execution; otherwise Run
	// resumes: states and Map iterations recorded as finished are not run
	// again, their recorded outputs are used; tasks in flight run again.
	// A history that already ends the execution returns its result.
	History []Event
	// Redrive restarts a FAILED, TIMED_OUT or ABORTED execution from its
	// History: an ExecutionRedriven event is recorded, then the states
	// that did not finish (the failed state, and inside a failed Map or
	// Parallel only its failed or unfinished iterations and branches)
	// run again. $$.Execution.RedriveCount counts the ExecutionRedriven
	// events of the history (this redrive included); a history whose
	// last redrive has not ended is resumed with Redrive false.
	// Redriving a SUCCEEDED or unfinished execution is an error.
	Redrive bool
}

// Status of a finished execution, as AWS names them.
const (
	StatusRunning   = "RUNNING"
	StatusSucceeded = "SUCCEEDED"
	StatusFailed    = "FAILED"
	StatusTimedOut  = "TIMED_OUT"
	StatusAborted   = "ABORTED"
)

// Result is how an execution ended.
type Result struct {
	Status string
	// Output is the execution output when Status is SUCCEEDED.
	Output any
	// Error and Cause name the failure otherwise.
	Error string
	Cause string
	// StartTime and StopTime are the timestamps of the first and last events.
	StartTime time.Time
	StopTime  time.Time
}

// Abort is the cause to give context.WithCancelCause to stop an execution
// (StopExecution): Run records ExecutionAborted with Name (the error) and
// Cause and returns an ABORTED Result. Any other cancellation of Run's
// context is a shutdown: nothing more is recorded and Run returns the
// context's error, so the execution resumes from its history later.
type Abort struct {
	Name  string
	Cause string
}

func (a *Abort) Error() string { return fmt.Sprintf("execution aborted: %s: %s", a.Name, a.Cause) }

// ErrHistory is wrapped by Run's error when a recorded history cannot be
// resumed: it does not start with ExecutionStarted, or it does not match
// the definition given.
var ErrHistory = errors.New("execution history cannot be resumed")

// ErrInputTooLarge is wrapped by Run's error when an execution's input
// is over MaxPayloadBytes: it can never start, however often it is run.
var ErrInputTooLarge = errors.New("execution input too large")

// Run runs ex until it ends and returns how it ended. The error is not
// about the execution's own failure (that is Result.Status FAILED) but
// about running it at all: an invalid Execution, a Journal failure, a
// history that cannot be resumed, or ctx cancelled for shutdown; the
// execution is then left as its journal has it, to be resumed.
//
// Run blocks its caller; Map iterations and Parallel branches run in
// goroutines it starts and waits for (at most MaxConcurrency per Map).
func (in *Interpreter) Run(ctx context.Context, ex Execution) (Result, error) {
	return in.run(ctx, ex)
}
