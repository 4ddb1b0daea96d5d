package jsonata

import (
	"bufio"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

// corpusExpressions seeds the fuzz targets with the differential corpus.
func corpusExpressions(f *testing.F) []string {
	file, err := os.Open(filepath.Join("testdata", "differential", "cases.txt"))
	if err != nil {
		f.Fatal(err)
	}
	defer file.Close()
	var exprs []string
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		_, expr, _ := strings.Cut(line, " ")
		exprs = append(exprs, expr)
	}
	return exprs
}

func FuzzCompile(f *testing.F) {
	for _, e := range corpusExpressions(f) {
		f.Add(e)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		e, err := Compile(expr)
		if err != nil {
			var je *Error
			if !errors.As(err, &je) || je.Code == "" {
				t.Fatalf("Compile(%q) error %v is not an *Error with a code", expr, err)
			}
			return
		}
		if e.String() != expr {
			t.Fatalf("String() = %q", e.String())
		}
	})
}

func FuzzEvaluate(f *testing.F) {
	const doc = `{"a":[1,2,{"b":"x"}],"c":{"d":[{"e":1},{"e":2}]},"s":"Hello","n":-1.5,"t":true,"z":null}`
	for _, e := range corpusExpressions(f) {
		f.Add(e, doc)
	}
	limits := Limits{MaxDepth: 200, MaxSteps: 200_000, MaxArrayLength: 100_000, MaxStringLength: 1 << 20}
	f.Fuzz(func(t *testing.T, expr, input string) {
		in, err := jsonvalue.Decode([]byte(input))
		if err != nil {
			return
		}
		e, err := CompileWithLimits(expr, limits)
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		v, err := e.Evaluate(ctx, in, map[string]any{"states": in})
		if err != nil {
			var je *Error
			if !errors.As(err, &je) || je.Code == codeInternal {
				t.Fatalf("Evaluate(%q) on %s: %v", expr, input, err)
			}
			return
		}
		if isUndef(v) {
			return
		}
		if _, err := jsonvalue.Marshal(v); err != nil {
			t.Fatalf("Evaluate(%q) returned %#v, not JSON: %v", expr, v, err)
		}
	})
}
