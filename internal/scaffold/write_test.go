package scaffold

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"go.mod": "module x\n", "x.go": "package x\n"})

	kind, path, err := Write(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if kind != Go || path != filepath.Join(dir, "velocity.yml") {
		t.Errorf("Write = %v, %q", kind, path)
	}
	first, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	parseDoc(t, first)

	// An existing file, likely hand-edited, survives without force.
	if err := os.WriteFile(path, []byte("edited\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err = Write(dir, false)
	if err == nil || err.Error() != "velocity.yml already exists; use --force to overwrite" {
		t.Fatalf("err = %v", err)
	}
	if !errors.Is(err, fs.ErrExist) {
		t.Errorf("errors.Is(%v, fs.ErrExist) = false", err)
	}
	var exists *ExistsError
	if !errors.As(err, &exists) || exists.Path != path {
		t.Errorf("err = %#v, want *ExistsError for %s", err, path)
	}
	if data, _ := os.ReadFile(path); string(data) != "edited\n" {
		t.Errorf("file changed without force: %q", data)
	}

	if _, _, err := Write(dir, true); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(path); string(data) != string(first) {
		t.Errorf("force didn't rewrite the file:\n%s", data)
	}
}

func TestWriteMissingDir(t *testing.T) {
	_, _, err := Write(filepath.Join(t.TempDir(), "nope"), false)
	if err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("err = %v", err)
	}
}
