package payload

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

// goldenFile is one testdata/*.json file of cases.
type goldenFile struct {
	Comment string       `json:"comment"`
	Cases   []goldenCase `json:"cases"`
}

// goldenCase is a template, the input and context it is evaluated with,
// and the payload, failure or compile error it must give.
type goldenCase struct {
	Name          string          `json:"name"`
	Template      json.RawMessage `json:"template"`
	Input         json.RawMessage `json:"input"`
	Context       json.RawMessage `json:"context"`
	Output        json.RawMessage `json:"output"`
	Error         string          `json:"error"`
	Cause         string          `json:"cause"`
	CauseContains string          `json:"causeContains"`
	CompileError  string          `json:"compileError"`
	Pointer       string          `json:"pointer"`
}

func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var g goldenFile
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&g); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, c := range g.Cases {
			t.Run(strings.TrimSuffix(filepath.Base(file), ".json")+"/"+c.Name, func(t *testing.T) {
				runGolden(t, c)
			})
		}
	}
}

func runGolden(t *testing.T, c goldenCase) {
	tmpl, err := Compile(c.Template)
	if c.CompileError != "" {
		if err == nil {
			t.Fatalf("Compile succeeded, want an error containing %q", c.CompileError)
		}
		if !strings.Contains(err.Error(), c.CompileError) {
			t.Errorf("compile error %q does not contain %q", err, c.CompileError)
		}
		var ce *CompileError
		if !errors.As(err, &ce) {
			t.Fatalf("compile error %T is not a *CompileError", err)
		}
		if c.Pointer != "" && ce.Pointer != c.Pointer {
			t.Errorf("pointer %q, want %q", ce.Pointer, c.Pointer)
		}
		return
	}
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	input, context := mustDecode(t, c.Input), mustDecode(t, c.Context)
	before := marshal(t, input)
	got, err := tmpl.Eval(input, context)
	if after := marshal(t, input); after != before {
		t.Errorf("the input was modified: %s became %s", before, after)
	}
	if c.Error != "" {
		var f *failure.Failure
		if !errors.As(err, &f) {
			t.Fatalf("Eval = %v, %v; want failure %s", got, err, c.Error)
		}
		if f.Name != c.Error {
			t.Errorf("error %q, want %q (cause %q)", f.Name, c.Error, f.Cause)
		}
		if c.Cause != "" && f.Cause != c.Cause {
			t.Errorf("cause\n got %q\nwant %q", f.Cause, c.Cause)
		}
		if c.CauseContains != "" && !strings.Contains(f.Cause, c.CauseContains) {
			t.Errorf("cause %q does not contain %q", f.Cause, c.CauseContains)
		}
		return
	}
	if err != nil {
		t.Fatalf("Eval: %v", err)
	}
	var want bytes.Buffer
	if err := json.Compact(&want, c.Output); err != nil {
		t.Fatal(err)
	}
	if g := marshal(t, got); g != want.String() {
		t.Errorf("output\n got %s\nwant %s", g, want.String())
	}
}

func mustDecode(t *testing.T, raw json.RawMessage) any {
	t.Helper()
	if raw == nil {
		return &jsonvalue.Object{}
	}
	v, err := Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func marshal(t *testing.T, v any) string {
	t.Helper()
	b, err := jsonvalue.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
