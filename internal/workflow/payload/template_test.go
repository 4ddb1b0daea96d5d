package payload

import (
	"encoding/json"
	"errors"
	"sync"
	"testing"
)

func TestDecodeKeepsNumbersAndRejectsTrailingData(t *testing.T) {
	v, err := Decode([]byte(`{"n": 12345678901234567890, "f": 1.50}`))
	if err != nil {
		t.Fatal(err)
	}
	m := v.(map[string]any)
	if m["n"] != json.Number("12345678901234567890") || m["f"] != json.Number("1.50") {
		t.Errorf("numbers not kept as written: %#v", m)
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
			ctx := map[string]any{"Map": map[string]any{"Item": map[string]any{"Index": json.Number(string(rune('0' + i%10))), "Value": "x"}}}
			v, err := tmpl.Eval(map[string]any{}, ctx)
			if err != nil {
				t.Error(err)
				return
			}
			results[i] = v
		}()
	}
	wg.Wait()
	for i, r := range results {
		m, ok := r.(map[string]any)
		if !ok {
			t.Fatalf("result %d = %#v", i, r)
		}
		if m["i"] != json.Number(string(rune('0'+i%10))) || m["v"] != "item x" {
			t.Errorf("result %d = %v", i, m)
		}
	}
}
