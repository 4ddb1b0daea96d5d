package jsonata

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

// knownDifferences lists corpus cases this implementation does not yet
// match, each with the reason; the test fails if one starts to pass, so
// the list stays true.
var knownDifferences = map[string]string{}

type goldenCase struct {
	Data      string          `json:"data"`
	Expr      string          `json:"expr"`
	Result    json.RawMessage `json:"result"`
	Undefined bool            `json:"undefined"`
	Error     *struct {
		Code     string `json:"code"`
		Message  string `json:"message"`
		Position *int   `json:"position"`
	} `json:"error"`
}

// TestDifferential runs the corpus whose expected results the reference
// JSONata 2.0.6 produced (testdata/differential/gen.js).
func TestDifferential(t *testing.T) {
	dir := filepath.Join("testdata", "differential")
	raw, err := os.ReadFile(filepath.Join(dir, "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []goldenCase
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	dataRaw, err := os.ReadFile(filepath.Join(dir, "data.json"))
	if err != nil {
		t.Fatal(err)
	}
	docs, err := jsonvalue.Decode(dataRaw)
	if err != nil {
		t.Fatal(err)
	}
	pass := 0
	for _, c := range cases {
		got, why := runCase(docs.(*jsonvalue.Object), c)
		known, isKnown := knownDifferences[c.Expr]
		switch {
		case why == "" && isKnown:
			t.Errorf("%s: listed as a known difference (%s) but passes now: remove it", c.Expr, known)
		case why != "" && !isKnown:
			t.Errorf("%s [%s]: %s (got %s)", c.Expr, c.Data, why, got)
		}
		if why == "" {
			pass++
		}
	}
	t.Logf("differential corpus: %d/%d pass (%.1f%%)", pass, len(cases), 100*float64(pass)/float64(len(cases)))
}

func runCase(docs *jsonvalue.Object, c goldenCase) (string, string) {
	input, _ := docs.Get(c.Data)
	var bindings map[string]any
	if c.Data == "states" {
		bindings = map[string]any{"states": input}
		input = Undefined
	}
	var got any
	e, err := Compile(c.Expr)
	if err == nil {
		got, err = e.Evaluate(context.Background(), input, bindings)
	}
	if err != nil {
		if c.Error == nil {
			return err.Error(), "unexpected error"
		}
		var je *Error
		if c.Error.Code != "" && (!asError(err, &je) || je.Code != c.Error.Code) {
			return err.Error(), "want error " + c.Error.Code
		}
		if c.Error.Position != nil && je != nil && je.Position != *c.Error.Position {
			return err.Error(), "position differs: want " + strconv.Itoa(*c.Error.Position)
		}
		return "", ""
	}
	b, _ := jsonvalue.Marshal(got)
	gotText := string(b)
	if isUndef(got) {
		gotText = "undefined"
	}
	switch {
	case c.Error != nil:
		return gotText, "want error " + c.Error.Code
	case c.Undefined:
		if !isUndef(got) {
			return gotText, "want undefined"
		}
		return "", ""
	}
	if isUndef(got) {
		// A function result is no JSON value: Evaluate returns Undefined.
		if w, _ := jsonvalue.Decode(c.Result); isFunctionMarker(w) {
			return "", ""
		}
		return gotText, "want " + string(c.Result)
	}
	want, err := jsonvalue.Decode(c.Result)
	if err != nil {
		return gotText, err.Error()
	}
	if !sameJSON(want, got) {
		return gotText, "want " + string(c.Result)
	}
	return "", ""
}

func asError(err error, target **Error) bool {
	e, ok := err.(*Error)
	*target = e
	return ok
}

// sameJSON compares as JSON values, objects in their member order, numbers
// by value to 1e-12 relative (JavaScript and Go may print the last digit
// of an inexact double differently).
func sameJSON(a, b any) bool {
	switch x := a.(type) {
	case *jsonvalue.Object:
		y, ok := b.(*jsonvalue.Object)
		if !ok || x.Len() != y.Len() {
			return false
		}
		xm, ym := x.Members(), y.Members()
		for i := range xm {
			if xm[i].Key != ym[i].Key || !sameJSON(xm[i].Value, ym[i].Value) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameJSON(x[i], y[i]) {
				return false
			}
		}
		return true
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		fx, _ := strconv.ParseFloat(string(x), 64)
		fy, _ := strconv.ParseFloat(string(y), 64)
		return fx == fy || math.Abs(fx-fy) <= 1e-12*math.Max(math.Abs(fx), math.Abs(fy))
	}
	return a == b
}

// isFunctionMarker tells the golden's stand-in for a function result.
func isFunctionMarker(v any) bool {
	o, ok := v.(*jsonvalue.Object)
	if !ok || o.Len() != 1 {
		return false
	}
	f, _ := o.Get("function")
	return f == true
}
