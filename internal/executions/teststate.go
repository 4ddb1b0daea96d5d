package executions

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/velocity-ci/velocity/internal/workflow"
	"github.com/velocity-ci/velocity/internal/workflow/asl"
	"github.com/velocity-ci/velocity/internal/workflow/payload"
	"github.com/velocity-ci/velocity/internal/workflow/task"
)

// TestStateRequest asks what one state does with an input, as Step
// Functions' TestState: nothing is recorded, no execution exists.
type TestStateRequest struct {
	// Definition is the state's own definition, or, with StateName, a
	// whole state machine's of which StateName is tested.
	Definition []byte
	StateName  string
	// Input is the state's input (JSON; empty: {}); Variables, when not
	// empty, a JSON object of the variables it sees.
	Input, Variables []byte
	// Dir is where a Task's local command runs.
	Dir string
	// Mock, when set, answers the Task instead of its resource.
	Mock *TestMock
	// RetrierRetryCount is how many retries the matching Retrier has
	// granted already.
	RetrierRetryCount int
}

// TestMock is a Task's answer given in a TestState request: its Result
// (JSON), or its failure when Error is set.
type TestMock struct {
	Result       []byte
	Error, Cause string
}

// testedState is the name a state given alone is tested under.
const testedState = "TestState"

// TestState runs one state. A request that is not one (a definition
// that does not check, input that is not JSON, a state TestState does
// not run) is ErrInvalid, the definition's a *DefinitionError.
func (s *Service) TestState(ctx context.Context, req TestStateRequest) (workflow.StateTestResult, error) {
	src, name, err := testMachine(req)
	if err != nil {
		return workflow.StateTestResult{}, err
	}
	if _, err := ParseDefinition("definition", src); err != nil {
		return workflow.StateTestResult{}, err
	}
	sm, err := asl.Load("definition", src)
	if err != nil {
		return workflow.StateTestResult{}, invalidf("definition: %v", err)
	}
	st, ok := sm.States[name]
	if !ok {
		return workflow.StateTestResult{}, invalidf("stateName %q: the definition has no such state", name)
	}
	if err := testable(name, st, req.Mock != nil); err != nil {
		return workflow.StateTestResult{}, err
	}
	sm.StartAt = name
	var input any
	if len(req.Input) > 0 {
		if input, err = payload.Decode(req.Input); err != nil {
			return workflow.StateTestResult{}, invalidf("input: not JSON: %v", err)
		}
	}
	var invoker workflow.Invoker = &task.Resources{Dir: req.Dir, Reaper: s.reaper, PollInterval: s.poll}
	if req.Mock != nil {
		m, err := newMockInvoker(req.Mock)
		if err != nil {
			return workflow.StateTestResult{}, err
		}
		invoker = m
	}
	in := &workflow.Interpreter{Invoker: invoker, Logger: s.log, BaseDir: req.Dir, Region: arnRegion, Account: arnAccount}
	res, err := in.TestState(ctx, workflow.StateTest{Definition: sm, Input: input, Variables: req.Variables, RetrierRetryCount: req.RetrierRetryCount})
	if errors.Is(err, workflow.ErrStateTest) {
		return res, invalidf("%v", err)
	}
	return res, err
}

// testMachine is the state machine a request's state is tested in, and
// the state's name. A state given alone gets a machine of its own, with
// a placeholder for each state it may go to (never run: the test stops
// there).
func testMachine(req TestStateRequest) ([]byte, string, error) {
	if req.StateName != "" {
		return req.Definition, req.StateName, nil
	}
	// Read loosely: the checker words what is wrong with the state.
	var state map[string]any
	if err := json.Unmarshal(req.Definition, &state); err != nil {
		return nil, "", invalidf("definition: not a state's JSON object: %v", err)
	}
	targets := []any{state["Next"], state["Default"]}
	for _, list := range []any{state["Choices"], state["Catch"]} {
		rules, _ := list.([]any)
		for _, r := range rules {
			if r, ok := r.(map[string]any); ok {
				targets = append(targets, r["Next"])
			}
		}
	}
	states := map[string]json.RawMessage{testedState: req.Definition}
	for _, t := range targets {
		if next, ok := t.(string); ok && next != "" {
			if _, ok := states[next]; !ok {
				states[next] = json.RawMessage(`{"Type": "Succeed"}`)
			}
		}
	}
	src, err := json.Marshal(struct {
		StartAt string                     `json:"StartAt"`
		States  map[string]json.RawMessage `json:"States"`
	}{testedState, states})
	return src, testedState, err
}

// testable refuses what TestState does not run, as Step Functions:
// Map and Parallel states, and the integration patterns that wait
// (.waitForTaskToken, .sync) unless a mock answers.
func testable(name string, st *asl.State, mocked bool) error {
	switch st.Type {
	case asl.TypeMap, asl.TypeParallel:
		return invalidf("state %s: TestState does not run %s states; test the states inside it", name, st.Type)
	case asl.TypeTask:
		waits := strings.HasSuffix(st.Resource, ".waitForTaskToken") || strings.HasSuffix(st.Resource, ".sync") || strings.HasSuffix(st.Resource, ".sync:2")
		if !mocked && waits {
			return invalidf("state %s: TestState does not wait for %s; give a mock of its result", name, st.Resource)
		}
	}
	return nil
}

// mockInvoker answers every task with a TestState request's mock.
type mockInvoker struct {
	result any
	fail   *asl.Failure
}

func newMockInvoker(m *TestMock) (*mockInvoker, error) {
	if m.Error != "" {
		return &mockInvoker{fail: &asl.Failure{Name: m.Error, Cause: m.Cause}}, nil
	}
	v, err := payload.Decode(m.Result)
	if err != nil {
		return nil, invalidf("mock result: not JSON: %v", err)
	}
	return &mockInvoker{result: v}, nil
}

func (m *mockInvoker) Invoke(context.Context, workflow.TaskRequest) (any, error) {
	if m.fail != nil {
		return nil, m.fail
	}
	return m.result, nil
}
