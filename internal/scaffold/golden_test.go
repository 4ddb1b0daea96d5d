package scaffold

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

// update rewrites golden files from the current output: go test -update.
var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

func TestGenerateGoGolden(t *testing.T) {
	// A fixed directory name, since the pipeline is named after it.
	dir := filepath.Join(t.TempDir(), "hello")
	writeFiles(t, dir, map[string]string{
		"go.mod":  "module example.com/hello\n\ngo 1.22\n",
		"main.go": "package main\n\nfunc main() {}\n",
	})
	_, got, err := Generate(dir)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "go.golden")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n%s", golden, got)
	}
}
