package task

import (
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

const mockFile = `{
  "StateMachines": {
    "orders": {"TestCases": {"RetryPath": {"Charge": "ChargeFlaky"}, "HappyPath": {"Charge": "ChargeOK"}}}
  },
  "MockedResponses": {
    "ChargeFlaky": {
      "0": {"Throw": {"Error": "Lambda.ServiceException", "Cause": "try again"}},
      "1-2": {"Return": {"charged": 1}},
      "3": {"Return": {"charged": 3}}
    },
    "ChargeOK": {"0": {"Return": {"StatusCode": 200, "Payload": {"ok": true}}}}
  }
}`

func TestMockedResponsesByInvocation(t *testing.T) {
	m, err := ParseMocks("mocks.json", []byte(mockFile))
	if err != nil {
		t.Fatal(err)
	}
	if !m.HasTestCase("orders", "RetryPath") || m.HasTestCase("orders", "Nope") || m.Case("other", "RetryPath") != nil {
		t.Fatal("test case lookup")
	}
	r := &Resources{Mocks: m.Case("orders", "RetryPath")}
	// The resource is never contacted: a real Lambda ARN runs unchanged.
	const lambda = "arn:aws:states:::lambda:invoke"
	charge := func() (any, error) {
		return r.Invoke(t.Context(), Request{Resource: lambda, StateName: "Charge", Input: &jsonvalue.Object{}, Heartbeat: func() {}})
	}
	_, err = charge()
	if f := failure(t, err); f.Name != "Lambda.ServiceException" || f.Cause != "try again" {
		t.Errorf("invocation 0: %+v", f)
	}
	for i, want := range []string{`{"charged":1}`, `{"charged":1}`, `{"charged":3}`, `{"charged":3}`} {
		out, err := charge()
		if err != nil || asJSON(t, out) != want {
			t.Errorf("invocation %d: %v %v, want %s", i+1, out, err, want)
		}
	}
	// A state the case does not mock goes to the real resource.
	_, err = r.Invoke(t.Context(), Request{Resource: lambda, StateName: "Other", Input: mustJSON(t, `{"FunctionName": "f"}`), Heartbeat: func() {}})
	if f := failure(t, err); f.Name != "Lambda.ResourceNotFoundException" {
		t.Errorf("unmocked state: %+v", f)
	}
}

func TestMockFileErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{`{"StateMachines": {"s": {"TestCases": {"T": {"A": "Missing"}}}}, "MockedResponses": {}}`, `"Missing"`},
		{`{"MockedResponses": {"R": {"x": {"Return": 1}}}}`, `"x" is not an invocation number`},
		{`{"MockedResponses": {"R": {"0": {}}}}`, "exactly one of Return or Throw"},
	} {
		if _, err := ParseMocks("m.json", []byte(tc.src)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.src, err)
		}
	}
}
