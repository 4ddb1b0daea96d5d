package jsonata

import (
	"context"
	"regexp"
	"testing"

	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

func toText(t *testing.T, v any) string {
	t.Helper()
	if isUndef(v) {
		return "undefined"
	}
	b, err := jsonvalue.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func eval(t *testing.T, expr string, input any, bindings map[string]any) (string, error) {
	t.Helper()
	e, err := Compile(expr)
	if err != nil {
		return "", err
	}
	v, err := e.Evaluate(context.Background(), input, bindings)
	if err != nil {
		return "", err
	}
	return toText(t, v), nil
}

// TestStepFunctionsFunctions checks the functions Step Functions adds to
// JSONata, as its documentation describes them.
func TestStepFunctionsFunctions(t *testing.T) {
	tests := []struct{ expr, want, code string }{
		{expr: "$partition([1,2,3,4,5,6,7,8,9], 3)", want: "[[1,2,3],[4,5,6],[7,8,9]]"},
		{expr: "$partition([1,2,3,4,5], 2)", want: "[[1,2],[3,4],[5]]"},
		{expr: "$partition([], 2)", want: "[]"},
		{expr: "$partition([1,2], 0)", code: "D3150"},
		{expr: "$partition([1,2], 1.5)", code: "D3150"},
		{expr: "$range(0, 10, 2)", want: "[0,2,4,6,8,10]"},
		{expr: "$range(1, 10, 3)", want: "[1,4,7,10]"},
		{expr: "$range(10, 0, -5)", want: "[10,5,0]"},
		{expr: "$range(5, 1, 1)", want: "[]"},
		{expr: "$range(1, 5, 0)", code: "D3151"},
		{expr: "$hash('input data', 'MD5')", want: `"812f45842bc6d66ee14572ce20db8e86"`},
		{expr: "$hash('abc', 'SHA-1')", want: `"a9993e364706816aba3e25717850c26c9cd0d89d"`},
		{expr: "$hash('abc', 'SHA-256')", want: `"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"`},
		{expr: "$length($hash('abc', 'SHA-384'))", want: "96"},
		{expr: "$length($hash('abc', 'SHA-512'))", want: "128"},
		{expr: "$hash('abc', 'SHA-3')", code: "D3152"},
		{expr: "$random(42) = $random(42)", want: "true"},
		{expr: "$random(42) = $random(43)", want: "false"},
		{expr: "$random() >= 0 and $random() < 1", want: "true"},
		{expr: "$parse('{\"b\":[1,{\"c\":null}],\"a\":true}')", want: `{"b":[1,{"c":null}],"a":true}`},
		{expr: "$parse('12.50')", want: "12.5"},
		{expr: "$parse('{bad')", code: "D3153"},
		{expr: "$parse($states.input.json).k", want: `"v"`},
		{expr: "$eval('1 + 1')", code: "T1006"},
		{expr: "$uuid() = $uuid()", want: "false"},
	}
	states, err := jsonvalue.Decode([]byte(`{"input":{"json":"{\"k\":\"v\"}"}}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		got, err := eval(t, tt.expr, Undefined, map[string]any{"states": states})
		if tt.code != "" {
			je, ok := err.(*Error)
			if !ok || je.Code != tt.code {
				t.Errorf("%s: got %s, %v; want error %s", tt.expr, got, err, tt.code)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s = %s, %v; want %s", tt.expr, got, err, tt.want)
		}
	}
	uuid, err := eval(t, "$uuid()", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"$`).MatchString(uuid) {
		t.Fatalf("$uuid() = %s, not a version 4 UUID", uuid)
	}
}
