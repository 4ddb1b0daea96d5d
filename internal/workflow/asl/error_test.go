package asl

import (
	"strings"
	"testing"
)

func TestErrorString(t *testing.T) {
	e := Error{File: "flow.json", Pointer: "/States/Check/Next", Line: 3, Col: 7, Message: "boom"}
	if got := e.String(); got != "flow.json:3:7: /States/Check/Next: boom" {
		t.Errorf("String() = %q", got)
	}
	e.Pointer = ""
	if got := e.Error(); got != "flow.json:3:7: boom" {
		t.Errorf("Error() without pointer = %q", got)
	}
	es := Errors{e, {File: "f", Line: 1, Col: 1, Message: "x"}}
	if got := es.Error(); got != "flow.json:3:7: boom\nf:1:1: x" {
		t.Errorf("Errors.Error() = %q", got)
	}
}

// State names may hold "/" and "~", which JSON pointers escape.
func TestPointerEscapes(t *testing.T) {
	errs := Validate("f.json", []byte(`{"StartAt": "a/b~c", "States": {"a/b~c": {"Type": "Pass", "Nxt": "x", "End": true}}}`))
	if len(errs) != 1 || errs[0].Pointer != "/States/a~1b~0c/Nxt" {
		t.Fatalf("errors = %v, want one at /States/a~1b~0c/Nxt", errs)
	}
}

// Errors come sorted by position even when later checks find earlier
// problems (transitions are checked after the states).
func TestValidateSorted(t *testing.T) {
	src := `{
  "StartAt": "Nope",
  "States": {
    "A": {"Type": "Pass", "Next": "Missing"},
    "B": {"Type": "Bogus"}
  }
}`
	errs := Validate("f.json", []byte(src))
	if len(errs) < 3 {
		t.Fatalf("got %d errors, want at least 3:\n%v", len(errs), Errors(errs))
	}
	for i := 1; i < len(errs); i++ {
		a, b := errs[i-1], errs[i]
		if a.Line > b.Line || (a.Line == b.Line && a.Col > b.Col) {
			t.Errorf("errors out of order:\n%v", Errors(errs))
		}
	}
	if !strings.HasPrefix(errs[0].String(), "f.json:2:") {
		t.Errorf("first error %q is not the StartAt on line 2", errs[0])
	}
}

func TestValidateValidHasNoErrors(t *testing.T) {
	if errs := Validate("f.yaml", []byte("StartAt: A\nStates:\n  A:\n    Type: Succeed\n")); errs != nil {
		t.Fatalf("Validate = %v, want nil", errs)
	}
}
