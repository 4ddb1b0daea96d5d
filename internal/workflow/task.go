package workflow

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/velocity-ci/velocity/internal/workflow/asl"
	"github.com/velocity-ci/velocity/internal/workflow/jsonpath"
	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
	"github.com/velocity-ci/velocity/internal/workflow/payload"
)

type taskScheduledDetails struct {
	ResourceType       string `json:"resourceType"`
	Resource           string `json:"resource"`
	Region             string `json:"region"`
	Parameters         string `json:"parameters"`
	TimeoutInSeconds   int64  `json:"timeoutInSeconds,omitempty"`
	HeartbeatInSeconds int64  `json:"heartbeatInSeconds,omitempty"`
	// TaskCredentials names the role of the state's Credentials.
	TaskCredentials *taskCredentials `json:"taskCredentials,omitempty"`
}

type taskCredentials struct {
	RoleArn string `json:"roleArn"`
}

type taskResourceDetails struct {
	ResourceType string `json:"resourceType"`
	Resource     string `json:"resource"`
}

type taskSucceededDetails struct {
	ResourceType  string       `json:"resourceType"`
	Resource      string       `json:"resource"`
	Output        string       `json:"output"`
	OutputDetails truncDetails `json:"outputDetails"`
}

type taskSubmittedDetails struct {
	ResourceType  string       `json:"resourceType"`
	Resource      string       `json:"resource"`
	Output        string       `json:"output"`
	OutputDetails truncDetails `json:"outputDetails"`
}

type taskFailedDetails struct {
	ResourceType string `json:"resourceType"`
	Resource     string `json:"resource"`
	Error        string `json:"error,omitempty"`
	Cause        string `json:"cause,omitempty"`
}

type lambdaScheduledDetails struct {
	Resource         string           `json:"resource"`
	Input            string           `json:"input"`
	InputDetails     truncDetails     `json:"inputDetails"`
	TimeoutInSeconds int64            `json:"timeoutInSeconds,omitempty"`
	TaskCredentials  *taskCredentials `json:"taskCredentials,omitempty"`
}

// recordedTask reads any task event's details: Task* and LambdaFunction*
// events name their fields differently.
type recordedTask struct {
	Parameters string `json:"parameters"`
	Input      string `json:"input"`
	Output     string `json:"output"`
	Error      string `json:"error"`
	Cause      string `json:"cause"`
}

// eventType gives the type a task event has for st: a Task whose
// Resource is a Lambda function ARN records LambdaFunction* events, as
// Step Functions does, every other resource Task* events.
func (st *state) eventType(t EventType) EventType {
	if !st.lambda {
		return t
	}
	switch t {
	case TaskScheduled:
		return LambdaFunctionScheduled
	case TaskStarted:
		return LambdaFunctionStarted
	case TaskSucceeded:
		return LambdaFunctionSucceeded
	case TaskFailed:
		return LambdaFunctionFailed
	case TaskTimedOut:
		return LambdaFunctionTimedOut
	}
	return t
}

func (st *state) failedDetails(f *asl.Failure) any {
	if st.lambda {
		return errorDetails{Error: reportedName(f.Name), Cause: f.Cause}
	}
	return taskFailedDetails{ResourceType: st.resourceType, Resource: st.rname, Error: reportedName(f.Name), Cause: f.Cause}
}

// scheduledResume keeps a task's token so a resumed task hands out the
// same one, and its effective timeouts.
type scheduledResume struct {
	Token     string `json:"token,omitempty"`
	Timeout   int64  `json:"timeout,omitempty"`
	Heartbeat int64  `json:"heartbeat,omitempty"`
	// Credentials is the evaluated Credentials field, as JSON.
	Credentials json.RawMessage `json:"credentials,omitempty"`
}

// failureResume records the decision taken on a failure: a retry after
// DelayMs milliseconds, or none.
type failureResume struct {
	Retry   bool  `json:"retry,omitempty"`
	DelayMs int64 `json:"delayMs,omitempty"`
	// Heartbeat marks a States.Timeout that was a missed heartbeat.
	Heartbeat bool `json:"heartbeat,omitempty"`
}

var (
	errTaskTimedOut     = errors.New("task timed out")
	errHeartbeatTimeout = errors.New("task heartbeat timed out")
)

// task runs a Task state: its attempts with Retry, then Catch.
func (s *scope) task(ctx context.Context, v *visit) (any, string, error) {
	st := v.st
	r := newRetries(st)
	for attempt := 0; ; attempt++ {
		out, f, recorded, failType, err := s.taskAttempt(ctx, v, attempt)
		if err != nil {
			return nil, "", err
		}
		if f == nil {
			return out, st.def.Next, nil
		}
		if recorded == nil && s.testRetriable(st, f) {
			return nil, "", f
		}
		if failType != "" && recorded == nil {
			failType = st.eventType(failType)
		}
		until, retry, err := s.onFailure(ctx, v, r, f, recorded, failType, func() any { return st.failedDetails(f) })
		if err == nil && recorded == nil {
			err = s.flush(ctx)
		}
		if err != nil {
			return nil, "", err
		}
		if !retry {
			return s.catchOrFail(v, f)
		}
		if err := s.sleepUntil(ctx, until); err != nil {
			return nil, "", err
		}
	}
}

// taskAttempt runs one attempt. It returns the processed output, or the
// attempt's failure with its event: recorded (consumed from the history)
// or, when recorded is nil, the type of the event still to be emitted
// ("" for failures before the task was scheduled, which have none).
func (s *scope) taskAttempt(ctx context.Context, v *visit, attempt int) (out any, f *asl.Failure, recorded *Event, failType EventType, err error) {
	st := v.st
	failed := func(err error) (any, *asl.Failure, *Event, EventType, error) {
		if isStop(err) {
			return nil, nil, nil, "", err
		}
		var fl *asl.Failure
		if !errors.As(err, &fl) {
			fl = asl.Failf(asl.ErrRuntime, "%v", err)
		}
		return nil, fl, nil, "", nil
	}

	var input, credentials any
	var token string
	var timeout, heartbeat int64
	sched, replayed := s.replay(st.eventType(TaskScheduled))
	schedID := sched.ID
	if replayed {
		var d recordedTask
		var r scheduledResume
		if err := json.Unmarshal(sched.Details, &d); err != nil {
			return nil, nil, nil, "", &stopError{err: err}
		}
		if len(sched.Resume) > 0 {
			_ = json.Unmarshal(sched.Resume, &r)
		}
		if st.lambda {
			d.Parameters = d.Input
		}
		if input, err = payload.Decode([]byte(d.Parameters)); err != nil {
			return nil, nil, nil, "", &stopError{err: err}
		}
		token, timeout, heartbeat = r.Token, r.Timeout, r.Heartbeat
		if len(r.Credentials) > 0 {
			if credentials, err = payload.Decode(r.Credentials); err != nil {
				return nil, nil, nil, "", &stopError{err: err}
			}
		}
	} else {
		if st.waitForTaskToken {
			token = newToken()
		}
		ctxObj := s.context(v, attempt, token)
		in, err := s.effectiveInput(v, ctxObj)
		if err != nil {
			return failed(err)
		}
		if input, err = s.parametersOf(v, st.parameters, in, ctxObj); err != nil {
			return failed(err)
		}
		// Credentials reads the state's input, as Parameters (Arguments)
		// does; a path or expression that fails fails the state before
		// the task is scheduled.
		if st.jsonata && st.jcredentials != nil {
			if credentials, err = s.jeval(v, "Credentials", st.jcredentials, ctxObj, jstates{input: v.input}); err != nil {
				return failed(err)
			}
		} else if !st.jsonata && st.credentials != nil {
			if credentials, err = st.credentials.Eval(in, ctxObj); err != nil {
				return failed(s.stateFailure(v, err))
			}
		}
		if timeout, err = s.secondsField(v, st.def.TimeoutSeconds, st.timeoutPath, in, ctxObj, "TimeoutSecondsPath"); err != nil {
			return failed(err)
		}
		if heartbeat, err = s.secondsField(v, st.def.HeartbeatSeconds, st.heartbeatPath, in, ctxObj, "HeartbeatSecondsPath"); err != nil {
			return failed(err)
		}
		details := taskScheduledDetails{
			ResourceType: st.resourceType, Resource: st.rname, Region: s.run.region(),
			Parameters: jsonString(input), TimeoutInSeconds: timeout, HeartbeatInSeconds: heartbeat,
		}
		resume := scheduledResume{Token: token, Timeout: timeout, Heartbeat: heartbeat}
		if credentials != nil {
			resume.Credentials = json.RawMessage(jsonString(credentials))
			if role, ok := memberOf(credentials, "RoleArn").(string); ok {
				details.TaskCredentials = &taskCredentials{RoleArn: role}
			}
		}
		var recorded any = details
		if st.lambda {
			recorded = lambdaScheduledDetails{Resource: st.def.Resource, Input: jsonString(input), TimeoutInSeconds: timeout, TaskCredentials: details.TaskCredentials}
		}
		sched = s.emitID(st.eventType(TaskScheduled), recorded, resume, &schedID)
	}
	if _, ok := s.replay(st.eventType(TaskStarted)); !ok {
		var details any = taskResourceDetails{ResourceType: st.resourceType, Resource: st.rname}
		if st.lambda {
			details = nil
		}
		s.emit(st.eventType(TaskStarted), details, nil)
	}
	_, submitted := s.replay(TaskSubmitted)

	var result any
	if e, ok := s.replay(st.eventType(TaskSucceeded)); ok {
		var d recordedTask
		if err := json.Unmarshal(e.Details, &d); err != nil {
			return nil, nil, nil, "", &stopError{err: err}
		}
		if result, err = payload.Decode([]byte(d.Output)); err != nil {
			return nil, nil, nil, "", &stopError{err: err}
		}
	} else if e, ok := s.recordedFailure(st.eventType(TaskFailed), st.eventType(TaskTimedOut)); ok {
		var d recordedTask
		var r failureResume
		_ = json.Unmarshal(e.Details, &d)
		if len(e.Resume) > 0 {
			_ = json.Unmarshal(e.Resume, &r)
		}
		if r.Heartbeat {
			d.Error = asl.ErrHeartbeatTimeout
		}
		return nil, &asl.Failure{Name: d.Error, Cause: d.Cause}, &e, e.Type, nil
	} else {
		if err := s.flush(ctx); err != nil {
			return nil, nil, nil, "", err
		}
		var fl *asl.Failure
		var ft EventType
		sched.ID = schedID
		result, fl, ft, err = s.invoke(ctx, v, sched, taskCall{input: input, credentials: credentials, token: token, attempt: attempt, timeout: timeout, heartbeat: heartbeat}, submitted)
		if err != nil {
			return nil, nil, nil, "", err
		}
		if fl != nil {
			return nil, fl, nil, ft, nil
		}
		var details any = taskSucceededDetails{ResourceType: st.resourceType, Resource: st.rname, Output: jsonString(result)}
		if st.lambda {
			details = outputDetails{Output: jsonString(result)}
		}
		s.emit(st.eventType(TaskSucceeded), details, nil)
		// A task's effect is done: record its result at once, so that a
		// crash now does not run it again.
		if err := s.flush(ctx); err != nil {
			return nil, nil, nil, "", err
		}
	}
	ctxObj := s.context(v, attempt, token)
	if out, err = s.outputOf(v, result, true, ctxObj); err != nil {
		return failed(err)
	}
	return out, nil, nil, "", nil
}

// recordedFailure consumes the next recorded event when it is one of types.
func (s *scope) recordedFailure(types ...EventType) (Event, bool) {
	for _, t := range types {
		if e, ok := s.replay(t); ok {
			return e, true
		}
	}
	return Event{}, false
}

// taskCall is what one attempt of a task was scheduled with.
type taskCall struct {
	input, credentials any
	token              string
	attempt            int
	timeout, heartbeat int64
}

// invoke calls the Invoker, enforcing the timeout and heartbeat from the
// time the task was scheduled.
func (s *scope) invoke(ctx context.Context, v *visit, sched Event, call taskCall, submitted bool) (any, *asl.Failure, EventType, error) {
	input, token, attempt, timeout, heartbeat := call.input, call.token, call.attempt, call.timeout, call.heartbeat
	x := s.run
	if x.in.Invoker == nil {
		return nil, asl.Failf(asl.ErrRuntime, "no task invoker is configured to run resource %s", v.st.def.Resource), TaskFailed, nil
	}
	ictx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var lastBeat atomic.Int64
	lastBeat.Store(x.clock.Now().UnixNano())
	var deadline time.Time
	if timeout > 0 {
		deadline = sched.Timestamp.Add(time.Duration(timeout) * time.Second)
		var c context.CancelFunc
		ictx, c = context.WithDeadline(ictx, time.Now().Add(deadline.Sub(x.clock.Now())))
		defer c()
	}
	if timeout > 0 || heartbeat > 0 {
		hb := time.Duration(heartbeat) * time.Second
		go func() {
			for {
				now := x.clock.Now()
				var wake time.Time
				if timeout > 0 {
					wake = deadline
				}
				if hb > 0 {
					beat := time.Unix(0, lastBeat.Load()).Add(hb)
					if wake.IsZero() || beat.Before(wake) {
						wake = beat
					}
				}
				if d := wake.Sub(now); d > 0 {
					if x.clock.Sleep(ictx, d) != nil {
						return
					}
				}
				now = x.clock.Now()
				if timeout > 0 && !now.Before(deadline) {
					cancel(errTaskTimedOut)
					return
				}
				if hb > 0 && now.Sub(time.Unix(0, lastBeat.Load())) >= hb {
					cancel(errHeartbeatTimeout)
					return
				}
			}
		}()
	}
	req := TaskRequest{
		Resource: v.st.def.Resource, Input: input, StateName: v.st.name,
		ExecutionID: x.ex.ID, ExecutionARN: x.arn, StateMachineARN: x.smARN,
		Attempt: attempt, ScheduledEventID: sched.ID, TaskToken: token, TimeoutSeconds: timeout, HeartbeatSeconds: heartbeat,
		Credentials: call.credentials,
		Heartbeat:   func() { lastBeat.Store(x.clock.Now().UnixNano()) },
	}
	// The scope is free while its goroutine waits in Invoke; once Invoke
	// returned, a late Submitted must not touch it.
	var subMu sync.Mutex
	invoking := true
	req.Submitted = func(output any) {
		subMu.Lock()
		defer subMu.Unlock()
		if submitted || !invoking || v.st.lambda {
			return
		}
		submitted = true
		out, err := normalize(output)
		if err != nil {
			out = err.Error()
		}
		s.emit(TaskSubmitted, taskSubmittedDetails{ResourceType: v.st.resourceType, Resource: v.st.rname, Output: jsonString(out)}, nil)
		// A journal error stays with the writer and stops the scope at
		// its next flush.
		_ = s.flush(ctx)
	}
	result, err := x.in.Invoker.Invoke(ictx, req)
	subMu.Lock()
	invoking = false
	subMu.Unlock()
	if ctx.Err() != nil && err != nil {
		// Stopped from outside. A result that came back all the same is
		// recorded below: the task's work is done and must not be redone.
		return nil, nil, "", &stopError{err: context.Cause(ctx)}
	}
	switch cause := context.Cause(ictx); {
	case errors.Is(cause, errTaskTimedOut) || (timeout > 0 && errors.Is(cause, context.DeadlineExceeded)):
		return nil, &asl.Failure{Name: asl.ErrTimeout}, TaskTimedOut, nil
	case errors.Is(cause, errHeartbeatTimeout):
		return nil, &asl.Failure{Name: asl.ErrHeartbeatTimeout}, TaskTimedOut, nil
	}
	if err != nil {
		var f *asl.Failure
		if errors.As(err, &f) {
			return nil, f, TaskFailed, nil
		}
		return nil, &asl.Failure{Name: asl.ErrTaskFailed, Cause: err.Error()}, TaskFailed, nil
	}
	out, err := normalize(result)
	if err != nil {
		return nil, &asl.Failure{Name: asl.ErrTaskFailed, Cause: fmt.Sprintf("the task's result is not JSON: %v", err)}, TaskFailed, nil
	}
	if len(jsonString(out)) > MaxPayloadBytes {
		// Step Functions names a service integration by its resource
		// type ('lambda'), a Lambda function or activity by its ARN.
		name := v.st.resourceType
		if v.st.lambda || name == "" {
			name = v.st.def.Resource
		}
		return nil, tooLarge(name), TaskFailed, nil
	}
	return out, nil, "", nil
}

// MaxPayloadBytes is Step Functions' quota on the input or result of a
// task, state or execution, as UTF-8 encoded JSON: 256 KiB.
const MaxPayloadBytes = 262144

// MaxPayloadTextBytes bounds the JSON text read for a payload before it
// is parsed (an execution's --input, a task command's stdout): parsing
// takes many times the text's size in memory (a 37 MB input took 823 MB
// only to be refused), so the text is cut off first. It is four times
// MaxPayloadBytes so that pretty-printed JSON whose compact form fits
// the quota is still accepted.
const MaxPayloadTextBytes = 4 * MaxPayloadBytes

// tooLarge is the failure of a task or state whose result is over
// MaxPayloadBytes, worded as Step Functions words it.
func tooLarge(name string) *asl.Failure {
	return asl.Failf(asl.ErrDataLimitExceeded, "The state/task '%s' returned a result with a size exceeding the maximum number of bytes service limit.", name)
}

// secondsField reads TimeoutSeconds/HeartbeatSeconds or their path form.
func (s *scope) secondsField(v *visit, fixed *int64, p *jsonpath.Path, in, ctxObj any, field string) (int64, error) {
	if v.st.jsonata {
		f, ok, err := s.jnumber(v, field[:len(field)-len("Path")], ctxObj, in, 1, maxSeconds, true)
		if ok || err != nil {
			return int64(f), err
		}
	}
	if fixed != nil {
		return *fixed, nil
	}
	if p == nil {
		return 0, nil
	}
	val, err := s.getPath(v, p, in, ctxObj)
	if err != nil {
		return 0, err
	}
	n, ok := seconds(val, 1)
	if !ok {
		return 0, asl.Failf(asl.ErrRuntime,
			"An error occurred while executing the state '%s' (entered at the event id #%d). The %s parameter does not reference a valid positive integer value: %s (Step Functions accepts 1 to %d)",
			v.st.name, s.enteredID(v), field, jsonString(val), maxSeconds)
	}
	return n, nil
}

func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (x *execution) region() string {
	if x.in.Region != "" {
		return x.in.Region
	}
	return "us-east-1"
}

// normalize brings a value from outside (a task's result, an
// execution's input) into the package's JSON form: the caller may hand
// any value encoding/json can encode (float64s, structs, []string).
func normalize(v any) (any, error) {
	switch v.(type) {
	case nil, string, bool, json.Number:
		return v, nil
	}
	b, err := jsonvalue.Marshal(v)
	if err != nil {
		return nil, err
	}
	return payload.Decode(b)
}

// memberOf is the value of key in a JSON object, nil when v is not an
// object or has no such key.
func memberOf(v any, key string) any {
	o, ok := v.(*jsonvalue.Object)
	if !ok {
		return nil
	}
	val, _ := o.Get(key)
	return val
}
