package jsonpath

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

// Set copies only the objects on the way to the node it writes; every
// other subtree is shared with the input, so a ResultPath on a large
// input costs as much as its path, not as the input.
func TestSetSharesWhatItDoesNotWrite(t *testing.T) {
	big := make([]any, 1000)
	for i := range big {
		big[i] = json.Number("1")
	}
	sibling := jsonvalue.NewObject(1)
	sibling.Set("items", big)
	out := jsonvalue.NewObject(1)
	out.Set("old", true)
	input := jsonvalue.NewObject(2)
	input.Set("keep", sibling)
	input.Set("out", out)
	ref, err := ParseReference("$.out.result")
	if err != nil {
		t.Fatal(err)
	}
	got, err := Set(input, ref, "r")
	if err != nil {
		t.Fatal(err)
	}
	m := got.(*jsonvalue.Object)
	keep, _ := m.Get("keep")
	if keep != any(sibling) {
		t.Error("the untouched sibling object was copied")
	}
	items, _ := keep.(*jsonvalue.Object).Get("items")
	if reflect.ValueOf(items).Pointer() != reflect.ValueOf(big).Pointer() {
		t.Error("the untouched array was copied")
	}
	if b, _ := jsonvalue.Marshal(m); !strings.HasSuffix(string(b), `]},"out":{"old":true,"result":"r"}}`) {
		t.Errorf("got %s", b)
	}
	if out.Has("result") {
		t.Error("Set wrote into its input")
	}
}
