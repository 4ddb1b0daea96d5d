package task

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/velocity-ci/velocity/internal/workflow/asl"
	"github.com/velocity-ci/velocity/internal/yamllimit"
)

// Mocks is a Step Functions Local MockConfigFile: for each state machine,
// test cases mapping state names to mocked responses, and the responses
// by invocation number ("0", "1-2", ...) returning a result or throwing
// an error.
type Mocks struct {
	StateMachines map[string]struct {
		TestCases map[string]map[string]string `json:"TestCases"`
	} `json:"StateMachines"`
	MockedResponses map[string]map[string]mockedResponse `json:"MockedResponses"`
}

type mockedResponse struct {
	Return json.RawMessage `json:"Return,omitempty"`
	Throw  *struct {
		Error string `json:"Error"`
		Cause string `json:"Cause"`
	} `json:"Throw,omitempty"`
}

// LoadMocks reads a MockConfigFile.
func LoadMocks(path string) (*Mocks, error) {
	src, err := yamllimit.ReadFile(path, asl.MaxDefinitionSize)
	if err != nil {
		return nil, fmt.Errorf("mocks: %w", err)
	}
	return ParseMocks(path, src)
}

// ParseMocks parses a MockConfigFile's contents and checks that every
// test case names responses that exist.
func ParseMocks(file string, src []byte) (*Mocks, error) {
	var m Mocks
	if err := json.Unmarshal(src, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	for sm, cases := range m.StateMachines {
		for tc, states := range cases.TestCases {
			for state, resp := range states {
				if _, ok := m.MockedResponses[resp]; !ok {
					return nil, fmt.Errorf("%s: StateMachines.%s.TestCases.%s.%s names the mocked response %q, which MockedResponses does not define", file, sm, tc, state, resp)
				}
			}
		}
	}
	for name, byCount := range m.MockedResponses {
		for key, r := range byCount {
			if _, _, err := mockRange(key); err != nil {
				return nil, fmt.Errorf("%s: MockedResponses.%s: %w", file, name, err)
			}
			if (r.Return == nil) == (r.Throw == nil) {
				return nil, fmt.Errorf("%s: MockedResponses.%s.%s: give exactly one of Return or Throw", file, name, key)
			}
		}
	}
	return &m, nil
}

// HasTestCase reports whether a state machine has the test case.
func (m *Mocks) HasTestCase(stateMachine, testCase string) bool {
	_, ok := m.StateMachines[stateMachine].TestCases[testCase]
	return ok
}

// TestCases lists a state machine's test cases.
func (m *Mocks) TestCases(stateMachine string) []string {
	var out []string
	for tc := range m.StateMachines[stateMachine].TestCases {
		out = append(out, tc)
	}
	sort.Strings(out)
	return out
}

// mockRange parses "3" or "1-2".
func mockRange(key string) (lo, hi int, err error) {
	a, b, isRange := strings.Cut(key, "-")
	lo, err = strconv.Atoi(a)
	if err == nil && isRange {
		hi, err = strconv.Atoi(b)
	} else {
		hi = lo
	}
	if err != nil || lo < 0 || hi < lo {
		return 0, 0, fmt.Errorf("%q is not an invocation number or range (\"0\", \"1-2\")", key)
	}
	return lo, hi, nil
}

// MockCase is one test case of one state machine being run: it answers
// the mocked states' invocations, counting each state's invocations.
type MockCase struct {
	mocks  *Mocks
	states map[string]string
	mu     sync.Mutex
	count  map[string]int
}

// Case returns the test case of a state machine, or nil when it has none.
func (m *Mocks) Case(stateMachine, testCase string) *MockCase {
	if m == nil {
		return nil
	}
	states, ok := m.StateMachines[stateMachine].TestCases[testCase]
	if !ok {
		return nil
	}
	return &MockCase{mocks: m, states: states, count: map[string]int{}}
}

// respond answers the next invocation of state, if the case mocks it.
func (c *MockCase) respond(state string) (any, error, bool) {
	if c == nil {
		return nil, nil, false
	}
	name, ok := c.states[state]
	if !ok {
		return nil, nil, false
	}
	c.mu.Lock()
	n := c.count[state]
	c.count[state] = n + 1
	c.mu.Unlock()
	byCount := c.mocks.MockedResponses[name]
	var found *mockedResponse
	last := -1
	for key, r := range byCount {
		lo, hi, _ := mockRange(key)
		if n >= lo && n <= hi {
			found = &r
			break
		}
		// Past the last numbered response, the last one repeats.
		if hi > last {
			last, found = hi, &r
		}
	}
	if found == nil {
		return nil, asl.Failf(asl.ErrTaskFailed, "mocked response %s has no response for invocation %d of state %s", name, n, state), true
	}
	if found.Throw != nil {
		return nil, &asl.Failure{Name: found.Throw.Error, Cause: found.Throw.Cause}, true
	}
	v, err := decode(bytes.Clone(found.Return))
	if err != nil {
		return nil, asl.Failf(asl.ErrRuntime, "mocked response %s: %v", name, err), true
	}
	return v, nil, true
}
