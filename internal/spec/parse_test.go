package spec

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMultilineRun(t *testing.T) {
	p, err := Parse(FileName, []byte(`stages:
  - name: build
    actions:
      - name: literal
        run: |
          set -x
          go vet ./...

          go test ./...
      - name: folded
        run: >
          go test
          ./...
      - name: stripped
        run: |-
          echo "no trailing newline: ok"
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"set -x\ngo vet ./...\n\ngo test ./...\n",
		"go test ./...\n",
		`echo "no trailing newline: ok"`,
	}
	for i, a := range p.Stages[0].Actions {
		if a.Run != want[i] {
			t.Errorf("%s: Run = %q, want %q", a.Name, a.Run, want[i])
		}
	}
}

func TestDefaults(t *testing.T) {
	p, err := Parse(FileName, []byte(`stages:
  - name: build
    actions:
      - {name: once, run: make}
      - {name: twice, run: make, retry: {attempts: 2}}
      - {name: now, run: make, retry: {attempts: 2, backoff: 0s}}
`))
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "" {
		t.Errorf("Name = %q, want empty for the caller to fill in", p.Name)
	}
	if p.File != FileName {
		t.Errorf("File = %q, want %q", p.File, FileName)
	}
	want := []Retry{{Attempts: 1}, {Attempts: 2, Backoff: time.Second}, {Attempts: 2}}
	for i, a := range p.Stages[0].Actions {
		if a.Retry != want[i] {
			t.Errorf("%s: Retry = %+v, want %+v", a.Name, a.Retry, want[i])
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	if err := os.WriteFile(path, []byte("stages: [{name: build, actions: [{name: test, run: make}]}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if p.File != path || p.Stages[0].Actions[0].Run != "make" {
		t.Errorf("Load = %+v", p)
	}
}

func TestLoadMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	_, err := Load(path)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want one matching fs.ErrNotExist", err)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, path+": ") || !strings.Contains(msg, `run "velocity init"`) {
		t.Errorf("err = %q, want the path and a hint to run velocity init", msg)
	}
}

func TestLoadErrorsNameTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	if err := os.WriteFile(path, []byte("stages: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want an *Error inside", err)
	}
	if e.File != path || e.Line != 1 || e.Col != 9 || e.Path != "stages" {
		t.Errorf("err = %+v", e)
	}
}
