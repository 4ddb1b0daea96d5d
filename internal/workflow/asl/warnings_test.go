package asl

import (
	"strings"
	"testing"
)

// A key written twice in a JSON definition is accepted, as Step Functions
// accepts it, with the value written last, and reported as a warning so
// that the edit mistake it usually is does not go unnoticed.
func TestDuplicateJSONKeyLastWinsWithWarning(t *testing.T) {
	src := `{
  "StartAt": "A",
  "States": {
    "A": { "Type": "Pass", "Type": "Succeed" },
    "A": { "Type": "Pass", "Result": 2, "End": true }
  }
}`
	sm, err := Load("definition.json", []byte(src))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	a := sm.States["A"]
	if a.Type != TypePass || string(a.Result) != "2" {
		t.Errorf("state A = %+v, want the Pass written last", a)
	}
	var got []string
	for _, w := range sm.Warnings {
		got = append(got, w.String())
	}
	want := []string{
		`definition.json:4:28: /States/A/Type: duplicate field "Type" (first defined at line 4); the value written last is used, as Step Functions does`,
		`definition.json:5:5: /States/A: duplicate field "A" (first defined at line 4); the value written last is used, as Step Functions does`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if errs := Validate("definition.json", []byte(src)); len(errs) != 0 {
		t.Errorf("Validate = %v, want no error", errs)
	}
}

// A variable that no visible scope assigns is a warning (the state that
// reads it fails when it runs); a Distributed Map's processor sees no
// outer variable; a Pass state's Result is data and not looked into.
func TestUndefinedVariableWarnings(t *testing.T) {
	src := `{
  "StartAt": "Set",
  "States": {
    "Set": { "Type": "Pass", "Assign": { "x": 1 }, "Result": { "lit.$": "$nothing" }, "Next": "Use" },
    "Use": { "Type": "Pass", "Parameters": { "x.$": "$x", "y.$": "States.Format('{}', $y)", "ctx.$": "$$.Execution.Id" }, "Next": "Fan" },
    "Fan": {
      "Type": "Map",
      "ItemProcessor": {
        "ProcessorConfig": { "Mode": "DISTRIBUTED", "ExecutionType": "STANDARD" },
        "StartAt": "Inner",
        "States": { "Inner": { "Type": "Pass", "InputPath": "$x", "End": true } }
      },
      "End": true
    }
  }
}`
	sm, err := Load("definition.json", []byte(src))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	var got []string
	for _, w := range sm.Warnings {
		got = append(got, w.String())
	}
	want := []string{
		`definition.json:5:66: /States/Use/Parameters/y.$: the variable $y is not assigned in this scope or an enclosing one; reading it fails when the state runs`,
		`definition.json:11:61: /States/Fan/ItemProcessor/States/Inner/InputPath: the variable $x is not assigned in this scope or an enclosing one; reading it fails when the state runs`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// ValidateWithWarnings gives the warnings Validate leaves out.
func TestValidateWithWarnings(t *testing.T) {
	errs, warns := ValidateWithWarnings("d.json", []byte(`{"StartAt": "A", "Comment": "x", "Comment": "y", "States": {"A": {"Type": "Succeed"}}}`))
	if len(errs) != 0 || len(warns) != 1 || !strings.Contains(warns[0].Message, `duplicate field "Comment"`) {
		t.Errorf("errs %v, warnings %v", errs, warns)
	}
}
