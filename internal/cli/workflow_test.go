package cli

import (
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/executions"
	"github.com/velocity-ci/velocity/internal/workflow/payload"
)

// run --json prints what DescribeExecution would: no cause key when the
// execution failed without one, text as it is, not HTML-escaped, and
// object members in their order, as Step Functions keeps them.
func TestWriteResult(t *testing.T) {
	for _, c := range []struct {
		res  executions.Result
		want string
	}{
		{executions.Result{Status: executions.StatusSucceeded, Output: map[string]any{"s": "<a&b>"}}, `{"status":"SUCCEEDED","output":{"s":"<a&b>"}}`},
		{executions.Result{Status: executions.StatusSucceeded, Output: ordered(t, `{"z":1,"a":{"y":[{"q":1,"p":2}],"x":null}}`)}, `{"status":"SUCCEEDED","output":{"z":1,"a":{"y":[{"q":1,"p":2}],"x":null}}}`},
		{executions.Result{Status: "FAILED", Error: "E"}, `{"status":"FAILED","error":"E"}`},
		{executions.Result{Status: "FAILED", Error: "E", Cause: "x > y"}, `{"status":"FAILED","error":"E","cause":"x > y"}`},
		{executions.Result{Status: "ABORTED"}, `{"status":"ABORTED"}`},
	} {
		var b strings.Builder
		if err := writeResult(&b, c.res); err != nil {
			t.Fatal(err)
		}
		if b.String() != c.want+"\n" {
			t.Errorf("writeResult(%+v) = %q, want %q", c.res, b.String(), c.want)
		}
	}
}

func ordered(t *testing.T, src string) any {
	t.Helper()
	v, err := payload.Decode([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return v
}
