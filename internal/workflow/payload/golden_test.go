package payload

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/workflow/goldentest"
	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

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
	goldentest.Run(t, func(c goldenCase) string { return c.Name }, runGolden)
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
	input, context := goldentest.Decode(t, c.Input, &jsonvalue.Object{}), goldentest.Decode(t, c.Context, &jsonvalue.Object{})
	before := goldentest.Marshal(t, input)
	got, err := tmpl.Eval(input, context)
	if after := goldentest.Marshal(t, input); after != before {
		t.Errorf("the input was modified: %s became %s", before, after)
	}
	if c.Error != "" {
		goldentest.Failure(t, got, err, c.Error, c.Cause, c.CauseContains)
		return
	}
	if err != nil {
		t.Fatalf("Eval: %v", err)
	}
	goldentest.Output(t, got, c.Output)
}
