// Package goldentest runs the golden case files of the workflow packages'
// tests (jsonpath, intrinsic, payload): testdata/*.json files holding
// {"comment": ..., "cases": [...]}, one subtest a case, and checks what
// those cases share: the output as compact JSON, or a named failure.
package goldentest

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/workflow/failure"
	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

// Run decodes every testdata/*.json file's cases into C (unknown fields
// are errors, so a misspelt expectation cannot pass unnoticed) and runs
// each as the subtest FILE/NAME.
func Run[C any](t *testing.T, name func(C) string, run func(*testing.T, C)) {
	t.Helper()
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var g struct {
			Comment string `json:"comment"`
			Cases   []C    `json:"cases"`
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&g); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, c := range g.Cases {
			t.Run(strings.TrimSuffix(filepath.Base(file), ".json")+"/"+name(c), func(t *testing.T) {
				run(t, c)
			})
		}
	}
}

// Decode reads a case's JSON value in the workflow form (ordered
// objects); an absent one is absent.
func Decode(t *testing.T, raw json.RawMessage, absent any) any {
	t.Helper()
	if raw == nil {
		return absent
	}
	v, err := jsonvalue.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Marshal writes v as compact JSON, members in order, without escaping
// <, > and &, as the golden files are written.
func Marshal(t *testing.T, v any) string {
	t.Helper()
	b, err := jsonvalue.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Output checks got against the case's expected output.
func Output(t *testing.T, got any, want json.RawMessage) {
	t.Helper()
	if want == nil {
		t.Fatal("case has no output, error or parse error")
	}
	var w bytes.Buffer
	if err := json.Compact(&w, want); err != nil {
		t.Fatal(err)
	}
	if g := Marshal(t, got); g != w.String() {
		t.Errorf("output\n got %s\nwant %s", g, w.String())
	}
}

// Failure checks that err is the named failure with the cause (exact
// when cause is set, containing contains when that is).
func Failure(t *testing.T, got any, err error, name, cause, contains string) {
	t.Helper()
	var f *failure.Failure
	if !errors.As(err, &f) {
		t.Fatalf("got %v, %v; want failure %s", got, err, name)
	}
	if f.Name != name {
		t.Errorf("error %q, want %q (cause %q)", f.Name, name, f.Cause)
	}
	if cause != "" && f.Cause != cause {
		t.Errorf("cause\n got %q\nwant %q", f.Cause, cause)
	}
	if contains != "" && !strings.Contains(f.Cause, contains) {
		t.Errorf("cause %q does not contain %q", f.Cause, contains)
	}
}
