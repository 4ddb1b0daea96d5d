package jsonpath

import (
	"encoding/json"
	"reflect"
	"testing"
)

// Set copies only the objects on the way to the node it writes; every
// other subtree is shared with the input, so a ResultPath on a large
// input costs as much as its path, not as the input.
func TestSetSharesWhatItDoesNotWrite(t *testing.T) {
	big := make([]any, 1000)
	for i := range big {
		big[i] = json.Number("1")
	}
	sibling := map[string]any{"items": big}
	input := map[string]any{"keep": sibling, "out": map[string]any{"old": true}}
	ref, err := ParseReference("$.out.result")
	if err != nil {
		t.Fatal(err)
	}
	got, err := Set(input, ref, "r")
	if err != nil {
		t.Fatal(err)
	}
	m := got.(map[string]any)
	if reflect.ValueOf(m["keep"]).Pointer() != reflect.ValueOf(sibling).Pointer() {
		t.Error("the untouched sibling object was copied")
	}
	if reflect.ValueOf(m["keep"].(map[string]any)["items"]).Pointer() != reflect.ValueOf(big).Pointer() {
		t.Error("the untouched array was copied")
	}
	if out := m["out"].(map[string]any); out["result"] != "r" || out["old"] != true {
		t.Errorf("out = %v", out)
	}
	if _, wrote := input["out"].(map[string]any)["result"]; wrote {
		t.Error("Set wrote into its input")
	}
}
