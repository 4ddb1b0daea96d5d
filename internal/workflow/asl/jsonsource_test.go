package asl

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestJSONFilesAreStrictJSON checks that a .json file is read as JSON even
// when its text would be valid YAML, as AWS refuses such a definition.
func TestJSONFilesAreStrictJSON(t *testing.T) {
	yamlText := "StartAt: A\nStates:\n  A:\n    Type: Succeed\n"
	if errs := Validate("flow.yaml", []byte(yamlText)); len(errs) != 0 {
		t.Fatalf("flow.yaml: %v", Errors(errs))
	}
	for _, file := range []string{"flow.json", "flow.asl.json", "FLOW.JSON"} {
		got := Errors(Validate(file, []byte(yamlText))).Error()
		want := file + `:1:1: invalid JSON: unknown value "StartAt"`
		if !strings.HasPrefix(got, want) {
			t.Errorf("Validate(%s) = %q, want it to start with %q", file, got, want)
		}
	}
	// Whatever its name, a source that opens with { is JSON, so YAML's
	// leniency cannot slip in through a .yaml name.
	got := Errors(Validate("flow.yaml", []byte(` {"StartAt":"A","States":{"A":{"Type":"Succeed"},}}`))).Error()
	if want := "flow.yaml:1:50: invalid JSON: trailing comma before }"; !strings.HasPrefix(got, want) {
		t.Errorf("got %q, want it to start with %q", got, want)
	}
	if got := Errors(Validate("empty.json", []byte(" \n"))).Error(); !strings.Contains(got, "the definition is empty") {
		t.Errorf("empty.json: %q", got)
	}
}

// TestJSONStringsAndPositions checks that strings decode exactly as
// encoding/json decodes them, and that columns count characters, not
// bytes, after non-ASCII text and escapes.
func TestJSONStringsAndPositions(t *testing.T) {
	src := "\xef\xbb\xbf{\"Comment\": \"h\u00e9llo \\u00e9 \\ud83d\\ude00 \\\"q\\\" \\/ \\n\", \"StartAt\": \"A\",\n" +
		"  \"States\": {\"A\": {\"Type\": \"Pass\", \"Comment\": \"\u65e5\u672c\", \"Next\": 7}}}"
	var want struct{ Comment string }
	if err := json.Unmarshal([]byte(strings.TrimPrefix(src, "\xef\xbb\xbf")), &want); err != nil {
		t.Fatal(err)
	}
	got := Errors(Validate("s.json", []byte(src))).Error()
	if w := `s.json:2:61: /States/A/Next: must be a string, got the number 7`; got != w {
		t.Errorf("Validate = %q, want %q", got, w)
	}
	fixed := strings.Replace(src, `"Next": 7`, `"End": true`, 1)
	sm, err := Decode([]byte(fixed))
	if err != nil {
		t.Fatal(err)
	}
	if sm.Comment != want.Comment {
		t.Errorf("Comment = %q, want %q", sm.Comment, want.Comment)
	}
	if sm.States["A"].Comment != "\u65e5\u672c" {
		t.Errorf("state Comment = %q", sm.States["A"].Comment)
	}
}
