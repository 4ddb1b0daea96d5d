package asl

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestDecodeNullPaths(t *testing.T) {
	sm, err := Decode([]byte(`{
	  "StartAt": "A",
	  "States": {
	    "A": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
	          "InputPath": null, "OutputPath": "$.out", "ResultPath": null,
	          "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": null, "Next": "B"},
	                    {"ErrorEquals": ["X"], "Next": "B"}],
	          "Next": "B"},
	    "B": {"Type": "Succeed"}
	  }
	}`))
	if err != nil {
		t.Fatal(err)
	}
	a := sm.States["A"]
	if a.InputPath != nil || !a.InputPathNull {
		t.Errorf("InputPath = %v, null %v; want nil and null", a.InputPath, a.InputPathNull)
	}
	if a.OutputPath == nil || *a.OutputPath != "$.out" || a.OutputPathNull {
		t.Errorf("OutputPath = %v, null %v; want $.out", a.OutputPath, a.OutputPathNull)
	}
	if a.ResultPath != nil || !a.ResultPathNull {
		t.Errorf("ResultPath = %v, null %v; want nil and null", a.ResultPath, a.ResultPathNull)
	}
	if c := a.Catch[0]; c.ResultPath != nil || !c.ResultPathNull {
		t.Errorf("Catch[0].ResultPath = %v, null %v; want nil and null", c.ResultPath, c.ResultPathNull)
	}
	if c := a.Catch[1]; c.ResultPath != nil || c.ResultPathNull {
		t.Errorf("absent Catch[1].ResultPath = %v, null %v; want nil, not null", c.ResultPath, c.ResultPathNull)
	}
	if b := sm.States["B"]; b.InputPath != nil || b.InputPathNull || b.OutputPathNull || b.ResultPathNull {
		t.Errorf("absent paths of B read as set: %+v", b)
	}
}

func TestDecodeChoiceOperators(t *testing.T) {
	sm, err := Decode([]byte(`
StartAt: C
States:
  C:
    Type: Choice
    Choices:
      - Variable: $.n
        NumericGreaterThanEquals: 10.50
        Next: D
      - Not:
          Variable: $.s
          StringMatches: "log-*"
        Next: D
      - And:
          - Variable: $.a
            IsPresent: true
          - Variable: $.t
            TimestampLessThanPath: $.deadline
        Next: D
    Default: D
  D:
    Type: Succeed
`))
	if err != nil {
		t.Fatal(err)
	}
	rules := sm.States["C"].Choices
	if len(rules) != 3 {
		t.Fatalf("got %d rules, want 3", len(rules))
	}
	check := func(name string, r *ChoiceRule, variable, op, value string) {
		t.Helper()
		if r.Variable != variable || r.Operator != op || string(r.Value) != value {
			t.Errorf("%s = %q %q %s, want %q %q %s", name, r.Variable, r.Operator, r.Value, variable, op, value)
		}
	}
	check("rule 0", &rules[0], "$.n", "NumericGreaterThanEquals", "10.50")
	if rules[0].Next != "D" {
		t.Errorf("rule 0 Next = %q", rules[0].Next)
	}
	if rules[1].Not == nil {
		t.Fatal("rule 1 has no Not")
	}
	check("rule 1 Not", rules[1].Not, "$.s", "StringMatches", `"log-*"`)
	if rules[1].Operator != "" {
		t.Errorf("a Not rule has Operator %q", rules[1].Operator)
	}
	if len(rules[2].And) != 2 {
		t.Fatalf("rule 2 And has %d rules", len(rules[2].And))
	}
	check("rule 2 And 0", rules[2].And[0], "$.a", "IsPresent", "true")
	check("rule 2 And 1", rules[2].And[1], "$.t", "TimestampLessThanPath", `"$.deadline"`)
	if sm.States["C"].Default != "D" {
		t.Errorf("Default = %q", sm.States["C"].Default)
	}
}

// A Map written with the older names runs like one with the new names.
func TestDecodeLegacyMap(t *testing.T) {
	sm, err := Decode([]byte(`{"StartAt": "M", "States": {"M": {
	  "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 3,
	  "Parameters": {"v.$": "$$.Map.Item.Value"},
	  "Iterator": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
	  "End": true}}}`))
	if err != nil {
		t.Fatal(err)
	}
	m := sm.States["M"]
	if m.Iterator != nil || m.ItemProcessor == nil || m.ItemProcessor.StartAt != "P" || m.ItemProcessor.States["P"].Type != TypePass {
		t.Errorf("Iterator not moved to ItemProcessor: %+v", m)
	}
	if m.Parameters != nil || string(m.ItemSelector) != `{"v.$":"$$.Map.Item.Value"}` {
		t.Errorf("Parameters not moved to ItemSelector: Parameters %s, ItemSelector %s", m.Parameters, m.ItemSelector)
	}
	if m.ItemsPath == nil || *m.ItemsPath != "$.items" || m.MaxConcurrency == nil || *m.MaxConcurrency != 3 {
		t.Errorf("ItemsPath %v, MaxConcurrency %v", m.ItemsPath, m.MaxConcurrency)
	}
}

// Parameters of a Task keep their name: only a Map's are renamed.
func TestDecodeTaskParametersStay(t *testing.T) {
	sm, err := Decode([]byte(`{"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:x:y", "Parameters": {"a": 1}, "End": true}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(sm.States["T"].Parameters); got != `{"a":1}` || sm.States["T"].ItemSelector != nil {
		t.Errorf("Parameters = %s, ItemSelector = %s", got, sm.States["T"].ItemSelector)
	}
}

// Numbers reach the interpreter exactly as written, and YAML-only forms
// become JSON.
func TestDecodeNumbersExact(t *testing.T) {
	sm, err := Decode([]byte(`
StartAt: P
States:
  P:
    Type: Pass
    Result:
      big: 12345678901234567890123
      money: 10.10
      exp: 1e400
      hex: 0x1F
      under: 1_000
      quoted: "7"
      list: [1.50, -0, null, true, 'x']
    End: true
`))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"big":12345678901234567890123,"money":10.10,"exp":1e400,"hex":31,"under":1000,"quoted":"7","list":[1.50,-0,null,true,"x"]}`
	if got := string(sm.States["P"].Result); got != want {
		t.Errorf("Result =\n%s\nwant\n%s", got, want)
	}
	if !json.Valid(sm.States["P"].Result) {
		t.Error("Result is not valid JSON")
	}
}

func TestDecodeYAMLEqualsJSON(t *testing.T) {
	js, err := Decode([]byte(`{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 5, "Comment": "a: b # c", "Next": "S"}, "S": {"Type": "Succeed"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	ym, err := Decode([]byte("StartAt: W\nStates:\n  W:\n    Type: Wait\n    Seconds: 5\n    Comment: 'a: b # c'\n    Next: S\n  S:\n    Type: Succeed\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(js, ym) {
		t.Errorf("JSON and YAML decode differently:\n%+v\n%+v", js.States["W"], ym.States["W"])
	}
}

func TestDecodeItemReaderAndBatcher(t *testing.T) {
	sm, err := Decode([]byte(`{"StartAt": "M", "States": {"M": {"Type": "Map",
	  "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
	    "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "GIVEN", "CSVHeaders": ["a", "b"],
	      "MaxItems": 7, "Transformation": "NONE", "ManifestType": "S3_INVENTORY"},
	    "Parameters": {"Bucket": "b", "Key.$": "$.key"}},
	  "ItemBatcher": {"MaxItemsPerBatch": 2, "MaxInputBytesPerBatchPath": "$.bytes", "BatchInput": {"x": 1}},
	  "ToleratedFailurePercentage": 12.5,
	  "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
	    "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
	  "End": true}}}`))
	if err != nil {
		t.Fatal(err)
	}
	m := sm.States["M"]
	ir := m.ItemReader
	if ir == nil || ir.Resource != ResourceGetObject || string(ir.Parameters) != `{"Bucket":"b","Key.$":"$.key"}` {
		t.Fatalf("ItemReader = %+v", ir)
	}
	rc := ir.ReaderConfig
	if rc.InputType != "CSV" || rc.CSVHeaderLocation != "GIVEN" || !reflect.DeepEqual(rc.CSVHeaders, []string{"a", "b"}) || rc.MaxItems == nil || *rc.MaxItems != 7 {
		t.Errorf("ReaderConfig = %+v", rc)
	}
	if got := string(rc.Extra); got != `{"Transformation":"NONE","ManifestType":"S3_INVENTORY"}` {
		t.Errorf("ReaderConfig.Extra = %s", got)
	}
	ib := m.ItemBatcher
	if ib == nil || ib.MaxItemsPerBatch == nil || *ib.MaxItemsPerBatch != 2 || ib.MaxInputBytesPerBatchPath != "$.bytes" || string(ib.BatchInput) != `{"x":1}` {
		t.Errorf("ItemBatcher = %+v", ib)
	}
	if m.ToleratedFailurePercentage == nil || *m.ToleratedFailurePercentage != 12.5 {
		t.Errorf("ToleratedFailurePercentage = %v", m.ToleratedFailurePercentage)
	}
	if pc := m.ItemProcessor.ProcessorConfig; pc == nil || pc.Mode != "DISTRIBUTED" || pc.ExecutionType != "EXPRESS" {
		t.Errorf("ProcessorConfig = %+v", pc)
	}
}

func TestDecodeWrongTypes(t *testing.T) {
	_, err := Decode([]byte(`{"StartAt": "A", "States": {"A": {"Type": "Wait", "Seconds": "ten", "End": true}}}`))
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 1 || errs[0].Pointer != "/States/A/Seconds" || !strings.Contains(errs[0].Message, "integer") {
		t.Fatalf("Decode error = %v, want one error at /States/A/Seconds", err)
	}
	if _, err := Decode([]byte(`{"StartAt": `)); err == nil {
		t.Fatal("Decode accepted truncated JSON")
	}
}

// Every valid golden decodes to the same machine whether read by Decode
// alone or by Load.
func TestLoadMatchesDecode(t *testing.T) {
	files, _ := filepath.Glob("testdata/valid/*")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		loaded, err := Load(file, data)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		decoded, err := Decode(data)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if !reflect.DeepEqual(loaded, decoded) {
			t.Errorf("%s: Load and Decode disagree", file)
		}
	}
}
