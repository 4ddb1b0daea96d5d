package spec

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzParse checks that no input makes Parse panic, return an error
// without a position, or take long: hostile nesting and aliases are
// refused quickly. Plain go test runs the golden inputs and the corpus in
// testdata/fuzz/FuzzParse (nesting 100,000 deep, alias bombs).
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.txt")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		input, _, _ := splitGolden(string(data))
		f.Add([]byte(input))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		start := time.Now()
		p, err := Parse(FileName, data)
		// Refusals take milliseconds; the margin is for a loaded machine.
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("Parse took %v", d)
		}
		if err == nil {
			if p == nil || len(p.Stages) == 0 {
				t.Fatalf("no error and no stages: %+v", p)
			}
			return
		}
		var errs Errors
		if !errors.As(err, &errs) || len(errs) == 0 {
			t.Fatalf("err = %v (%T), want non-empty Errors", err, err)
		}
		for _, e := range errs {
			if e.Line < 1 || e.Col < 1 || e.Msg == "" {
				t.Fatalf("error without position or message: %+v", e)
			}
		}
	})
}
