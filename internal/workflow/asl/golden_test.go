package asl

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the want sections of testdata/invalid/*.txt with the current output")

// wantMarker splits an invalid golden file into the definition above it
// and the expected errors below it.
const wantMarker = "-- want --\n"

// TestInvalid validates every testdata/invalid/*.txt, expecting exactly
// the listed errors, and checks that Load refuses it with the same list.
func TestInvalid(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no golden files found")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			input, want, ok := splitGolden(string(data))
			if !ok && !*update {
				t.Fatalf("%s: no %q line", file, strings.TrimSpace(wantMarker))
			}
			name := sourceName(input)
			got := Errors(Validate(name, []byte(input))).Error()
			if *update {
				if err := os.WriteFile(file, []byte(input+wantMarker+got+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if got == "" {
				t.Fatalf("%s: Validate found no problem, want:\n%s", file, want)
			}
			if got != want {
				t.Errorf("%s: errors differ (rerun with -update to accept)\ngot:\n%s\nwant:\n%s", file, got, want)
			}
			sm, err := Load(name, []byte(input))
			var errs Errors
			if sm != nil || !errors.As(err, &errs) || errs.Error() != got {
				t.Errorf("Load = %v, %v; want nil and the errors of Validate", sm, err)
			}
		})
	}
}

// TestValid loads every testdata/valid definition, which must have no
// problem at all.
func TestValid(t *testing.T) {
	files, err := filepath.Glob("testdata/valid/*")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no valid definitions found")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			sm, err := Load(file, data)
			if err != nil {
				t.Fatalf("Load:\n%v", err)
			}
			if len(sm.States) == 0 || sm.States[sm.StartAt] == nil {
				t.Fatalf("decoded StartAt %q is not among %d states", sm.StartAt, len(sm.States))
			}
		})
	}
}

// sourceName names a golden's definition by its format, as a user's file
// would be named.
func sourceName(input string) string {
	if strings.HasPrefix(strings.TrimSpace(input), "{") {
		return "definition.json"
	}
	return "definition.yaml"
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
