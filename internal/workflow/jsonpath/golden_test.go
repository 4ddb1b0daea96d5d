package jsonpath

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/workflow/goldentest"
)

// goldenCase is a path, what it runs against and what it must give.
// Op is "get" (the default), "getExisting" or "set"; Reference parses with
// ParseReference (set always does). Error is a substring of a match error
// (which must wrap ErrNoMatch); ParseError a substring of a parse error.
type goldenCase struct {
	Name       string          `json:"name"`
	Path       string          `json:"path"`
	Op         string          `json:"op"`
	Reference  bool            `json:"reference"`
	Input      json.RawMessage `json:"input"`
	Context    json.RawMessage `json:"context"`
	Value      json.RawMessage `json:"value"`
	Output     json.RawMessage `json:"output"`
	Definite   *bool           `json:"definite"`
	Error      string          `json:"error"`
	ParseError string          `json:"parseError"`
}

func TestGolden(t *testing.T) {
	goldentest.Run(t, func(c goldenCase) string { return c.Name }, runGolden)
}

func runGolden(t *testing.T, c goldenCase) {
	parse := Parse
	if c.Reference || c.Op == "set" {
		parse = ParseReference
	}
	p, err := parse(c.Path)
	if c.ParseError != "" {
		if err == nil {
			t.Fatalf("parsing %q succeeded, want an error containing %q", c.Path, c.ParseError)
		}
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("parse error %T is not a *SyntaxError", err)
		}
		if !strings.Contains(err.Error(), c.ParseError) {
			t.Fatalf("parse error %q does not contain %q", err, c.ParseError)
		}
		return
	}
	if err != nil {
		t.Fatalf("parsing %q: %v", c.Path, err)
	}
	if p.String() != c.Path {
		t.Errorf("String() = %q", p.String())
	}
	if c.Definite != nil && p.Definite() != *c.Definite {
		t.Errorf("Definite() = %v, want %v", p.Definite(), *c.Definite)
	}
	input := goldentest.Decode(t, c.Input, nil)
	inputBefore := goldentest.Marshal(t, input)
	var got any
	switch c.Op {
	case "", "get":
		got, err = p.Get(input, goldentest.Decode(t, c.Context, nil))
	case "getExisting":
		got, err = p.GetExisting(input, goldentest.Decode(t, c.Context, nil))
	case "set":
		got, err = Set(input, p, goldentest.Decode(t, c.Value, nil))
	default:
		t.Fatalf("unknown op %q", c.Op)
	}
	if after := goldentest.Marshal(t, input); after != inputBefore {
		t.Errorf("the input was modified: %s became %s", inputBefore, after)
	}
	if c.Error != "" {
		if err == nil {
			t.Fatalf("got %s, want an error containing %q", goldentest.Marshal(t, got), c.Error)
		}
		if !errors.Is(err, ErrNoMatch) {
			t.Errorf("error %v does not wrap ErrNoMatch", err)
		}
		if !strings.Contains(err.Error(), c.Error) {
			t.Errorf("error %q does not contain %q", err, c.Error)
		}
		return
	}
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	goldentest.Output(t, got, c.Output)
}
