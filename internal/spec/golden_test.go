package spec

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the want sections of testdata/*/*.txt with the current output")

// wantMarker splits a golden file into the velocity.yml above it and the
// expected output below it.
const wantMarker = "-- want --\n"

// TestGolden parses every testdata/invalid/*.txt, expecting exactly the
// listed errors, and every testdata/valid/*.txt, expecting the listed
// JSON rendering of the Pipeline.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*/*.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no golden files found")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.ToSlash(file)[len("testdata/"):], ".txt"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			input, want, ok := splitGolden(string(data))
			if !ok && !*update {
				t.Fatalf("%s: no %q line", file, strings.TrimSpace(wantMarker))
			}
			got := render(t, filepath.Base(filepath.Dir(file)), []byte(input))
			if *update {
				if err := os.WriteFile(file, []byte(input+wantMarker+got+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if got != want {
				t.Errorf("%s: output differs (rerun with -update to accept)\ngot:\n%s\nwant:\n%s", file, got, want)
			}
		})
	}
}

// render parses input and returns what a golden file of kind ("valid" or
// "invalid") records.
func render(t *testing.T, kind string, input []byte) string {
	t.Helper()
	p, err := Parse(FileName, input)
	switch kind {
	case "invalid":
		var errs Errors
		if !errors.As(err, &errs) {
			t.Fatalf("Parse error = %v (%T), want Errors", err, err)
		}
		return errs.Error()
	case "valid":
		if err != nil {
			t.Fatalf("Parse: unexpected error:\n%v", err)
		}
		out, err := json.MarshalIndent(p, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	t.Fatalf("unknown golden kind %q", kind)
	return ""
}

func splitGolden(data string) (input, want string, ok bool) {
	if rest, found := strings.CutPrefix(data, wantMarker); found {
		return "", strings.TrimSuffix(rest, "\n"), true
	}
	i := strings.Index(data, "\n"+wantMarker)
	if i < 0 {
		return data, "", false
	}
	return data[:i+1], strings.TrimSuffix(data[i+1+len(wantMarker):], "\n"), true
}
