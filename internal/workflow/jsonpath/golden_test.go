package jsonpath

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

// goldenFile is one testdata/*.json file of cases.
type goldenFile struct {
	Comment string       `json:"comment"`
	Cases   []goldenCase `json:"cases"`
}

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
	input := decodeRaw(t, c.Input)
	inputBefore := mustMarshal(t, input)
	var got any
	switch c.Op {
	case "", "get":
		got, err = p.Get(input, decodeRaw(t, c.Context))
	case "getExisting":
		got, err = p.GetExisting(input, decodeRaw(t, c.Context))
	case "set":
		got, err = Set(input, p, decodeRaw(t, c.Value))
	default:
		t.Fatalf("unknown op %q", c.Op)
	}
	if after := mustMarshal(t, input); after != inputBefore {
		t.Errorf("the input was modified: %s became %s", inputBefore, after)
	}
	if c.Error != "" {
		if err == nil {
			t.Fatalf("got %s, want an error containing %q", mustMarshal(t, got), c.Error)
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
	if c.Output == nil {
		t.Fatal("case has no output, error or parseError")
	}
	var want bytes.Buffer
	if err := json.Compact(&want, c.Output); err != nil {
		t.Fatal(err)
	}
	if g := mustMarshal(t, got); g != want.String() {
		t.Errorf("output\n got %s\nwant %s", g, want.String())
	}
}

func decodeRaw(t *testing.T, raw json.RawMessage) any {
	t.Helper()
	if raw == nil {
		return nil
	}
	v, err := jsonvalue.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mustMarshal(t *testing.T, v any) string {
	t.Helper()
	b, err := jsonvalue.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
