package asl

import (
	"fmt"
	"strings"
	"testing"
)

// The wording of a bad intrinsic call is package intrinsic's; these tests
// check what Validate adds: that every call is parsed, and the problem
// located at the field that holds it.
func TestIntrinsicCallsChecked(t *testing.T) {
	bad := []struct{ call, mentions string }{
		{`States.Concat('a', 'b')`, "States.Concat"},
		{`States.Format('Hello {}', $.name`, ")"},
		{`States.Format('unterminated)`, "string"},
		{`States.ArrayLength($.a[)`, "["},
	}
	for _, tc := range bad {
		src := fmt.Sprintf(`{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true,
  "Parameters": {"ok": 1, "v.$": %q}}}}`, tc.call)
		errs := Validate("f.json", []byte(src))
		if len(errs) != 1 {
			t.Errorf("%s: got %d errors, want 1:\n%v", tc.call, len(errs), Errors(errs))
			continue
		}
		e := errs[0]
		if e.Pointer != "/States/A/Parameters/v.$" || e.Line != 2 || e.Col != 34 {
			t.Errorf("%s: error at %s %d:%d, want /States/A/Parameters/v.$ 2:34", tc.call, e.Pointer, e.Line, e.Col)
		}
		if !strings.HasPrefix(e.Message, "invalid intrinsic function call: ") || !strings.Contains(e.Message, tc.mentions) {
			t.Errorf("%s: message %q does not say what is wrong", tc.call, e.Message)
		}
	}
}

func TestEveryIntrinsicAccepted(t *testing.T) {
	calls := []string{
		`States.Format('{} has {} items', $.name, States.ArrayLength($.items))`,
		`States.StringToJson($.raw)`,
		`States.JsonToString($)`,
		`States.Array(1, 'two', true, null, $.x)`,
		`States.ArrayPartition($.items, 2)`,
		`States.ArrayContains($.items, $.x)`,
		`States.ArrayRange(1, 9, 2)`,
		`States.ArrayGetItem($.items, 0)`,
		`States.ArrayLength($.items)`,
		`States.ArrayUnique($.items)`,
		`States.Base64Encode($.text)`,
		`States.Base64Decode('aGk=')`,
		`States.Hash($.text, 'SHA-256')`,
		`States.JsonMerge($.a, $.b, false)`,
		`States.MathRandom(1, 10)`,
		`States.MathAdd($.n, -1)`,
		`States.StringSplit('a,b', ',')`,
		`States.UUID()`,
		`States.Format('it\'s {}', $$.Execution.Name)`,
	}
	for _, call := range calls {
		src := fmt.Sprintf(`{"StartAt": "A", "States": {"A": {"Type": "Pass", "Parameters": {"v.$": %q}, "End": true}}}`, call)
		if errs := Validate("f.json", []byte(src)); errs != nil {
			t.Errorf("%s: %v", call, Errors(errs))
		}
	}
}
