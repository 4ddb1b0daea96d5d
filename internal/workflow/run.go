package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/velocity-ci/velocity/internal/workflow/asl"
	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
	"github.com/velocity-ci/velocity/internal/workflow/payload"
)

// execution is the state of one Run.
type execution struct {
	in    *Interpreter
	ex    Execution
	clock Clock
	rand  Rand
	log   *slog.Logger
	w     *writer

	root     *machine
	recorded map[string][]Event

	name, arn, smName, smARN string
	roleArn                  string
	input                    any
	startTime                time.Time
	redriveCount             int
	// redrivenID is the ID of the last ExecutionRedriven event, which
	// the top level's next event links to.
	redrivenID int64
	// timeoutBase is when the execution's TimeoutSeconds started to
	// count: its start, or its last redrive.
	timeoutBase time.Time
	// contextExecution and contextStateMachine are the fixed parts of
	// $$, built once and shared (read-only) by every state's context.
	contextExecution    *jsonvalue.Object
	contextStateMachine *jsonvalue.Object
	// test, when set, makes this a TestState run of the StartAt state.
	test *stateTest
}

// stopError ends a walk without recording anything more: the journal
// failed, the context was cancelled, or the history cannot be resumed.
type stopError struct{ err error }

func (e *stopError) Error() string { return e.err.Error() }
func (e *stopError) Unwrap() error { return e.err }

// errExecutionTimedOut and errSiblingFailed are the causes of contexts the
// interpreter cancels itself.
var (
	errExecutionTimedOut = errors.New("execution timed out")
	errSiblingFailed     = errors.New("another iteration or branch failed")
)

type executionStartedDetails struct {
	Input        string       `json:"input"`
	InputDetails truncDetails `json:"inputDetails"`
	RoleArn      string       `json:"roleArn,omitempty"`
}

type truncDetails struct {
	Truncated bool `json:"truncated"`
}

type errorDetails struct {
	Error string `json:"error,omitempty"`
	Cause string `json:"cause,omitempty"`
}

type outputDetails struct {
	Output        string       `json:"output"`
	OutputDetails truncDetails `json:"outputDetails"`
}

type redrivenDetails struct {
	RedriveCount int `json:"redriveCount"`
}

func (in *Interpreter) run(ctx context.Context, ex Execution) (Result, error) {
	return in.runWith(ctx, ex, nil, nil)
}

// runWith runs ex, as a test of its StartAt state when test is set,
// with vars as the top level's variables.
func (in *Interpreter) runWith(ctx context.Context, ex Execution, test *stateTest, vars *jsonvalue.Object) (Result, error) {
	if ex.ID == "" {
		return Result{}, errors.New("run workflow execution: no execution ID")
	}
	if in.Journal == nil {
		return Result{}, fmt.Errorf("run workflow execution %s: no journal", ex.ID)
	}
	root, err := compileMachine(ex.Definition, "")
	if err != nil {
		return Result{}, fmt.Errorf("run workflow execution %s: %w", ex.ID, err)
	}
	x := &execution{in: in, ex: ex, clock: in.Clock, rand: in.Rand, log: in.Logger, root: root, test: test}
	if x.clock == nil {
		x.clock = RealClock{}
	}
	if x.rand == nil {
		x.rand = globalRand{}
	}
	if x.log == nil {
		x.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	x.names()
	x.w = &writer{journal: in.Journal, id: ex.ID, nextID: 1}

	started, final := x.index(ex.History)
	if len(ex.History) > 0 && started == nil {
		return Result{}, fmt.Errorf("resume workflow execution %s: %w: it has no ExecutionStarted event", ex.ID, ErrHistory)
	}

	if started != nil {
		var d executionStartedDetails
		if err := json.Unmarshal(started.Details, &d); err != nil {
			return Result{}, fmt.Errorf("resume workflow execution %s: %w: ExecutionStarted details: %v", ex.ID, ErrHistory, err)
		}
		if x.input, err = payload.Decode([]byte(d.Input)); err != nil {
			return Result{}, fmt.Errorf("resume workflow execution %s: %w: recorded input: %v", ex.ID, ErrHistory, err)
		}
		x.startTime = started.Timestamp
		if d.RoleArn != "" {
			x.roleArn = d.RoleArn
		}
	} else {
		if x.input, err = normalize(ex.Input); err != nil {
			return Result{}, fmt.Errorf("start workflow execution %s: the input is not JSON: %w", ex.ID, err)
		}
		if x.input == nil {
			x.input = &jsonvalue.Object{}
		}
		if n := len(jsonString(x.input)); n > MaxPayloadBytes {
			// StartExecution refuses such an input; nothing is recorded.
			return Result{}, fmt.Errorf("start workflow execution %s: %w: %d bytes of JSON, more than the %d bytes (256 KiB, MaxPayloadBytes) Step Functions accepts; pass a reference to the data (a file or object key) instead", ex.ID, ErrInputTooLarge, n, MaxPayloadBytes)
		}
		x.startTime = x.clock.Now()
	}
	if final != nil && !ex.Redrive {
		return x.resultOf(*final), nil
	}
	if ex.Redrive {
		if final == nil || final.Type == ExecutionSucceeded {
			return Result{}, fmt.Errorf("redrive workflow execution %s: only a failed, timed out or aborted execution can be redriven", ex.ID)
		}
		x.redriveCount++
		x.truncateForRedrive()
	}
	x.contexts()
	if started != nil {
		x.log.Info("resuming workflow execution", "execution", ex.ID, "recorded_events", len(ex.History), "redrive", ex.Redrive)
	}

	rootScope := x.newScope("", x.redrivenID)
	rootScope.setVars(vars)
	if started == nil {
		rootScope.emitRaw(ExecutionStarted, executionStartedDetails{Input: jsonString(x.input), RoleArn: x.roleArn}, nil)
		rootScope.pending[0].Timestamp = x.startTime
	}
	if x.timeoutBase.IsZero() {
		x.timeoutBase = x.startTime
	}
	if ex.Redrive {
		rootScope.lastID = x.w.nextID - 1
		e := rootScope.emitRaw(ExecutionRedriven, redrivenDetails{RedriveCount: x.redriveCount}, nil)
		x.timeoutBase = e.Timestamp
	}

	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if t := ex.Definition.TimeoutSeconds; t != nil && *t > 0 {
		deadline := x.timeoutBase.Add(time.Duration(*t) * time.Second)
		go func() {
			if x.clock.Sleep(runCtx, deadline.Sub(x.clock.Now())) == nil {
				cancel(errExecutionTimedOut)
			}
		}()
	}

	out, err := rootScope.runMachine(runCtx, root, x.input)
	var f *asl.Failure
	var res Result
	switch {
	case err == nil:
		rootScope.emitRaw(ExecutionSucceeded, outputDetails{Output: jsonString(out)}, nil)
		res = Result{Status: StatusSucceeded, Output: out}
	case errors.As(err, &f) && !isStop(err):
		name := reportedName(f.Name)
		rootScope.emitRaw(ExecutionFailed, errorDetails{Error: name, Cause: f.Cause}, nil)
		res = Result{Status: StatusFailed, Error: name, Cause: f.Cause}
	default:
		// Stopped: say why, and record the end only when the execution
		// itself (not the process) is what stopped.
		var abort *Abort
		cause := context.Cause(runCtx)
		switch {
		case errors.Is(cause, errExecutionTimedOut) && ctx.Err() == nil:
			rootScope.emitRaw(ExecutionTimedOut, errorDetails{Error: asl.ErrTimeout, Cause: "The execution timed out."}, nil)
			res = Result{Status: StatusTimedOut, Error: asl.ErrTimeout, Cause: "The execution timed out."}
		case errors.As(context.Cause(ctx), &abort):
			rootScope.emitRaw(ExecutionAborted, errorDetails{Error: abort.Name, Cause: abort.Cause}, nil)
			res = Result{Status: StatusAborted, Error: abort.Name, Cause: abort.Cause}
		default:
			if ctx.Err() != nil {
				return Result{}, fmt.Errorf("workflow execution %s stopped: %w", ex.ID, context.Cause(ctx))
			}
			return Result{}, fmt.Errorf("workflow execution %s: %w", ex.ID, err)
		}
	}
	if err := rootScope.flush(context.WithoutCancel(ctx)); err != nil {
		return Result{}, fmt.Errorf("workflow execution %s: record its end: %w", ex.ID, err)
	}
	res.StartTime = x.startTime
	res.StopTime = x.clock.Now()
	return res, nil
}

// index sorts a recorded history into the scopes' event lists, applying
// the cut of each redrive it records, and returns its ExecutionStarted
// event and the event that ended it (nil while it runs).
func (x *execution) index(history []Event) (started, final *Event) {
	x.recorded = make(map[string][]Event)
	for i := range history {
		e := &history[i]
		if e.ID >= x.w.nextID {
			x.w.nextID = e.ID + 1
		}
		if e.Timestamp.After(x.w.lastTime) {
			x.w.lastTime = e.Timestamp
		}
		switch e.Type {
		case ExecutionStarted:
			started = e
		case ExecutionRedriven:
			x.redriveCount++
			x.timeoutBase = e.Timestamp
			x.redrivenID = e.ID
			x.truncateForRedrive()
			final = nil
		case ExecutionSucceeded, ExecutionFailed, ExecutionTimedOut, ExecutionAborted:
			final = e
		default:
			rec := x.recorded[e.Scope]
			if e.Type == MapIterationStarted && len(rec) > 0 && rec[0].Type != MapIterationStarted {
				// A redriven iteration started again before the walk went
				// through the states it had finished (see iteration).
				x.recorded[e.Scope] = append([]Event{*e}, rec...)
				continue
			}
			x.recorded[e.Scope] = append(rec, *e)
		}
	}
	return started, final
}

// isStop reports whether err stops the walk rather than failing a state.
func isStop(err error) bool {
	var s *stopError
	return errors.As(err, &s)
}

// resultOf reads the Result of a history's final event.
func (x *execution) resultOf(e Event) Result {
	res := Result{StartTime: x.startTime, StopTime: e.Timestamp}
	switch e.Type {
	case ExecutionSucceeded:
		var d outputDetails
		_ = json.Unmarshal(e.Details, &d)
		res.Status = StatusSucceeded
		res.Output, _ = payload.Decode([]byte(d.Output))
		return res
	case ExecutionFailed:
		res.Status = StatusFailed
	case ExecutionTimedOut:
		res.Status = StatusTimedOut
	case ExecutionAborted:
		res.Status = StatusAborted
	}
	var d errorDetails
	_ = json.Unmarshal(e.Details, &d)
	res.Error, res.Cause = d.Error, d.Cause
	return res
}

// truncateForRedrive cuts every scope's recorded events back to its last
// finished state, so that walking the history again re-runs what did not
// finish: the failed state (fresh, retries counted from zero) and inside
// a failed Map or Parallel the iterations and branches that did not
// succeed. Scopes that succeeded keep everything. An iteration that runs
// again loses its MapIterationStarted: it records a new one, as Step
// Functions starts the iterations it re-runs, and then goes through the
// states it had finished without running them again.
func (x *execution) truncateForRedrive() {
	for name, evs := range x.recorded {
		if n := len(evs); n > 0 && evs[n-1].Type == MapIterationSucceeded {
			continue
		}
		keep := 0
		for i, e := range evs {
			if strings.HasSuffix(string(e.Type), "StateExited") {
				keep = i + 1
			}
		}
		kept := evs[:keep:keep]
		if len(kept) > 0 && kept[0].Type == MapIterationStarted {
			kept = kept[1:]
		}
		x.recorded[name] = kept
	}
}

// names fills the names and ARNs of the execution and its state machine.
func (x *execution) names() {
	region, account := x.in.Region, x.in.Account
	if region == "" {
		region = "us-east-1"
	}
	if account == "" {
		account = "123456789012"
	}
	x.name = x.ex.Name
	if x.name == "" {
		x.name = x.ex.ID
	}
	x.smName = x.ex.StateMachineName
	x.smARN = x.ex.StateMachineARN
	if x.smARN == "" {
		x.smARN = fmt.Sprintf("arn:aws:states:%s:%s:stateMachine:%s", region, account, x.smName)
	}
	x.roleArn = x.ex.RoleArn
	if x.roleArn == "" {
		x.roleArn = fmt.Sprintf("arn:aws:iam::%s:role/velocity", account)
	}
	x.arn = x.ex.ARN
	if x.arn == "" {
		x.arn = fmt.Sprintf("arn:aws:states:%s:%s:execution:%s:%s", region, account, x.smName, x.name)
	}
}

// contexts builds the fixed parts of $$ in the order Step Functions
// gives their members (recorded).
func (x *execution) contexts() {
	x.contextExecution = object(
		"Id", x.arn,
		"Input", x.input,
		"StartTime", formatTime(x.startTime),
		"Name", x.name,
		"RoleArn", x.roleArn,
		"RedriveCount", jsonInt(int64(x.redriveCount)),
	)
	x.contextStateMachine = object("Id", x.smARN, "Name", x.smName)
}

func jsonInt(n int64) json.Number { return json.Number(fmt.Sprint(n)) }
