package intrinsic

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

// goldenFile is one testdata/*.json file: cases that share a subject.
type goldenFile struct {
	Comment string       `json:"comment"`
	Cases   []goldenCase `json:"cases"`
}

// goldenCase is an expression, what it runs against, and what it must
// give: an output, a failure (error name and cause), or a parse error.
type goldenCase struct {
	Name          string          `json:"name"`
	Expr          string          `json:"expr"`
	Input         json.RawMessage `json:"input"`
	Context       json.RawMessage `json:"context"`
	Output        json.RawMessage `json:"output"`
	Error         string          `json:"error"`
	Cause         string          `json:"cause"`
	CauseContains string          `json:"causeContains"`
	ParseError    string          `json:"parseError"`
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
	call, err := Parse(c.Expr)
	if c.ParseError != "" {
		if err == nil {
			t.Fatalf("Parse(%q) succeeded, want an error containing %q", c.Expr, c.ParseError)
		}
		if !strings.Contains(err.Error(), c.ParseError) {
			t.Fatalf("Parse(%q) error %q does not contain %q", c.Expr, err, c.ParseError)
		}
		return
	}
	if err != nil {
		t.Fatalf("Parse(%q): %v", c.Expr, err)
	}
	if call.String() != c.Expr {
		t.Errorf("String() = %q, want %q", call.String(), c.Expr)
	}
	input := decode(t, c.Input)
	context := decode(t, c.Context)
	got, err := call.Eval(input, context)
	if c.Error != "" {
		var f *failure.Failure
		if !errors.As(err, &f) {
			t.Fatalf("Eval = %v, %v; want failure %s", got, err, c.Error)
		}
		if f.Name != c.Error {
			t.Errorf("error name %q, want %q (cause %q)", f.Name, c.Error, f.Cause)
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
	if c.Output == nil {
		t.Fatal("case has no output, error or parseError")
	}
	gotJSON, err := marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := json.Compact(&want, c.Output); err != nil {
		t.Fatal(err)
	}
	if gotJSON != want.String() {
		t.Errorf("output\n got %s\nwant %s", gotJSON, want.String())
	}
}

func decode(t *testing.T, raw json.RawMessage) any {
	t.Helper()
	if raw == nil {
		return &jsonvalue.Object{}
	}
	v, err := jsonvalue.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// marshal writes compact JSON without escaping <, > and &, as the golden
// files are written.
func marshal(v any) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}
