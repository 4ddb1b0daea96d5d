package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/velocity-ci/velocity/internal/workflow/asl"
	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
	"github.com/velocity-ci/velocity/internal/workflow/payload"
)

// StateTest asks what one state does with an input, as Step Functions'
// TestState does: the state runs as it would in an execution (its
// input and output processing, its task through the Invoker, its
// Catch), but it is the only one: the walk stops where it would go to
// the next state, and a failure its Retry would retry is reported
// instead of retried.
type StateTest struct {
	// Definition holds the state as its StartAt; the states its Next,
	// Choices, Default and Catch name must exist (they do not run).
	Definition *asl.StateMachine
	// Input is the state's input (nil: {}); Variables, when set, a JSON
	// object of the workflow variables the state sees.
	Input     any
	Variables []byte
	// RetrierRetryCount is how many retries the matching Retrier has
	// granted already: at its MaxAttempts the failure is not retriable.
	RetrierRetryCount int
}

// Statuses of a tested state, as TestState names them.
const (
	TestSucceeded   = "SUCCEEDED"
	TestFailed      = "FAILED"
	TestRetriable   = "RETRIABLE"
	TestCaughtError = "CAUGHT_ERROR"
)

// StateTestResult is what a tested state did.
type StateTestResult struct {
	// Status is one of TestSucceeded, TestFailed, TestRetriable and
	// TestCaughtError.
	Status string
	// Output (JSON text) and NextState are set when it succeeded or a
	// Catcher caught its failure; NextState is "" for a state that ends
	// its machine.
	Output    string
	NextState string
	// Error and Cause name its failure, retried, caught or not.
	Error, Cause string
	Inspection   Inspection
}

// Inspection is how the tested state processed its data, each value as
// JSON text, "" where the state did not get that far (or has no such
// step); and which Retrier or Catcher took its failure.
type Inspection struct {
	Input, AfterInputPath, AfterParameters, AfterArguments string
	Result, AfterResultSelector, AfterResultPath           string
	// Variables are the workflow variables once the state is done: those
	// given and those it assigned.
	Variables string
	// CatchIndex and RetryIndex are the Catcher's and the Retrier's, -1
	// for none; RetryBackoffSeconds is the delay before the retry.
	CatchIndex, RetryIndex int
	RetryBackoffSeconds    int
}

// stateTest is what a test run records as the walk passes its hooks.
type stateTest struct {
	retried int
	exited  bool
	next    string
	retry   bool
	caught  *asl.Failure
	insp    Inspection
}

// ErrStateTest is wrapped by TestState's error when the question is
// not one: an input or variables that are not JSON.
var ErrStateTest = errors.New("invalid state test")

// TestState runs t's state once, journaled in memory (in.Journal is not
// used), and reports what it did. The error is about running it at all
// (ctx cancelled, a definition that does not compile); the state's own
// failure is in the result.
func (in *Interpreter) TestState(ctx context.Context, t StateTest) (StateTestResult, error) {
	test := &stateTest{retried: t.RetrierRetryCount, insp: Inspection{CatchIndex: -1, RetryIndex: -1}}
	var vars *jsonvalue.Object
	if len(t.Variables) > 0 {
		v, err := payload.Decode(t.Variables)
		o, ok := v.(*jsonvalue.Object)
		if err != nil || !ok {
			return StateTestResult{}, errors.Join(ErrStateTest, errors.New("the variables are not a JSON object"))
		}
		vars = o
	}
	input, err := normalize(t.Input)
	if err != nil {
		return StateTestResult{}, errors.Join(ErrStateTest, fmt.Errorf("the input is not JSON: %w", err))
	}
	if input == nil {
		input = &jsonvalue.Object{}
	}
	test.insp.Input = jsonString(input)
	run := *in
	run.Journal = NewMemoryJournal()
	res, err := run.runWith(ctx, Execution{ID: "test-state", Name: "test-state", StateMachineName: "test-state", Definition: t.Definition, Input: input}, test, vars)
	if err != nil {
		return StateTestResult{}, err
	}
	out := StateTestResult{Error: res.Error, Cause: res.Cause, Inspection: test.insp}
	switch {
	case test.retry:
		out.Status = TestRetriable
	case res.Status == StatusSucceeded && test.exited:
		out.Status, out.Output, out.NextState = TestSucceeded, jsonString(res.Output), test.next
		if f := test.caught; f != nil {
			out.Status, out.Error, out.Cause = TestCaughtError, reportedName(f.Name), f.Cause
		}
	default:
		out.Status = TestFailed
	}
	return out, nil
}

// testing is the test under way when s is the top level of a test run,
// whose only state is the tested one; nil otherwise.
func (s *scope) testing() *stateTest {
	if s.parent != nil || s.name != "" {
		return nil
	}
	return s.run.test
}

// inspect records a step of the tested state's data processing.
func (s *scope) inspect(dst func(*Inspection) *string, v any) {
	if t := s.testing(); t != nil {
		*dst(&t.insp) = jsonString(v)
	}
}

// testExit ends a test run at the tested state's exit.
func (s *scope) testExit(next string) bool {
	t := s.testing()
	if t == nil {
		return false
	}
	t.exited, t.next = true, next
	vars := make(map[string]json.RawMessage, len(s.vars))
	for name, v := range s.vars {
		vars[name] = json.RawMessage(jsonString(v))
	}
	b, _ := json.Marshal(vars)
	t.insp.Variables = string(b)
	return true
}

// testRetriable reports whether the tested state's Retry would retry f,
// recording which Retrier and after how long.
func (s *scope) testRetriable(st *state, f *asl.Failure) bool {
	t := s.testing()
	if t == nil {
		return false
	}
	for i, rt := range st.def.Retry {
		if !errorMatches(rt.ErrorEquals, f.Name) {
			continue
		}
		max := int64(3)
		if rt.MaxAttempts != nil {
			max = *rt.MaxAttempts
		}
		if int64(t.retried) >= max {
			return false
		}
		interval := 1.0
		if rt.IntervalSeconds != nil {
			interval = float64(*rt.IntervalSeconds)
		}
		rate := 2.0
		if rt.BackoffRate != nil {
			rate = *rt.BackoffRate
		}
		delay := min(interval*math.Pow(rate, float64(t.retried)), maxSeconds)
		if rt.MaxDelaySeconds != nil && delay > float64(*rt.MaxDelaySeconds) {
			delay = float64(*rt.MaxDelaySeconds)
		}
		t.retry = true
		t.insp.RetryIndex, t.insp.RetryBackoffSeconds = i, int(delay)
		return true
	}
	return false
}

// testCaught records the Catcher that took the tested state's failure.
func (s *scope) testCaught(index int, f *asl.Failure) {
	if t := s.testing(); t != nil {
		t.caught, t.insp.CatchIndex = f, index
	}
}
