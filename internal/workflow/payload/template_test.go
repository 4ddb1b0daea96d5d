package payload

import (
	"encoding/json"
	"errors"
	"sync"
	"testing"

	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

// Numbers come out as Step Functions writes them: integers that fit in
// 64 bits exactly, others as doubles in Java's notation.
func TestDecodeWritesNumbersLikeStepFunctionsAndRejectsTrailingData(t *testing.T) {
	v, err := Decode([]byte(`{"i": 9007199254740993, "n": 12345678901234567890, "f": 1.50, "z": -0}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := jsonvalue.Marshal(v)
	if want := `{"i":9007199254740993,"n":1.2345678901234567E19,"f":1.5,"z":0}`; string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	for _, bad := range []string{`{} {}`, `1 2`, `{"a":1}x`, ``, `{`} {
		if _, err := Decode([]byte(bad)); err == nil {
			t.Errorf("Decode(%q) succeeded", bad)
		}
	}
	if _, err := Decode([]byte(" [1] \n")); err != nil {
		t.Errorf("surrounding space rejected: %v", err)
	}
}

func TestCompileRejectsInvalidJSON(t *testing.T) {
	_, err := Compile(json.RawMessage(`{"a": `))
	var ce *CompileError
	if !errors.As(err, &ce) {
		t.Fatalf("Compile of broken JSON = %v, want a *CompileError", err)
	}
}

// One template serves many goroutines (Map iterations) at once, and each
// gets its own result.
func TestEvalConcurrently(t *testing.T) {
	tmpl, err := Compile(json.RawMessage(`{"i.$": "$$.Map.Item.Index", "v.$": "States.Format('item {}', $$.Map.Item.Value)", "static": {"k": [1]}}`))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	results := make([]any, 50)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, _ := Decode([]byte(`{"Map":{"Item":{"Index":` + string(rune('0'+i%10)) + `,"Value":"x"}}}`))
			v, err := tmpl.Eval(&jsonvalue.Object{}, ctx)
			if err != nil {
				t.Error(err)
				return
			}
			results[i] = v
		}()
	}
	wg.Wait()
	for i, r := range results {
		b, _ := jsonvalue.Marshal(r)
		if want := `{"static":{"k":[1]},"v":"item x","i":` + string(rune('0'+i%10)) + `}`; string(b) != want {
			t.Errorf("result %d = %s, want %s", i, b, want)
		}
	}
}
