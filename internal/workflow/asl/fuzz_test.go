package asl

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzLoad checks that no input makes Decode or Load panic, that every problem has
// a position and a message, that whatever Validate accepts Decode
// reads into a machine whose StartAt is one of its states, and that no
// input takes long: hostile nesting and aliases are refused quickly.
// Plain go test runs the golden inputs and the corpus in
// testdata/fuzz/FuzzLoad (nesting 100,000 deep, alias bombs); go test
// -fuzz=FuzzLoad explores.
func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("testdata/*valid/*")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		input, _, _ := splitGolden(string(data))
		f.Add([]byte(input))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// Decode alone reads unchecked input too; it must not panic.
		_, _ = Decode(data)
		start := time.Now()
		sm, err := Load("f", data)
		// Refusals take milliseconds; the margin is for a loaded machine.
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("Load took %v", d)
		}
		if err == nil {
			if sm == nil || sm.States[sm.StartAt] == nil {
				t.Fatalf("no error and no start state: %+v", sm)
			}
			return
		}
		errs, ok := err.(Errors)
		if !ok || len(errs) == 0 {
			t.Fatalf("err = %v (%T), want non-empty Errors", err, err)
		}
		for _, e := range errs {
			if e.Line < 1 || e.Col < 1 || e.Message == "" {
				t.Fatalf("error without position or message: %+v", e)
			}
		}
	})
}
