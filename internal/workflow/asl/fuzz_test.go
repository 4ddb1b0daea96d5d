package asl

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad checks that no input makes Decode or Load panic, that every problem has
// a position and a message, and that whatever Validate accepts Decode
// reads into a machine whose StartAt is one of its states. Plain go test
// runs only the golden inputs; go test -fuzz=FuzzLoad explores.
func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*")
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
		sm, err := Load("f", data)
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
