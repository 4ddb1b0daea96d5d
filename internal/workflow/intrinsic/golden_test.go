package intrinsic

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/workflow/goldentest"
	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

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
	goldentest.Run(t, func(c goldenCase) string { return c.Name }, runGolden)
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
	input := goldentest.Decode(t, c.Input, &jsonvalue.Object{})
	context := goldentest.Decode(t, c.Context, &jsonvalue.Object{})
	got, err := call.Eval(input, context)
	if c.Error != "" {
		goldentest.Failure(t, got, err, c.Error, c.Cause, c.CauseContains)
		return
	}
	if err != nil {
		t.Fatalf("Eval: %v", err)
	}
	goldentest.Output(t, got, c.Output)
}
