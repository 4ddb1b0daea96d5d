package scaffold

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
)

// goPlan builds the plan for a Go module: test, vet and build of every
// package, independent of each other so that they run in parallel (the
// go command's build cache is safe for concurrent use).
func goPlan(dir string) (plan, error) {
	p := plan{
		kind:       Go,
		found:      "go.mod",
		envExample: "GOFLAGS: -mod=readonly",
		notes: []string{
			"Go keeps its build and module caches in the home directory (go env",
			"GOCACHE GOMODCACHE), which actions share with the host: nothing in the",
			"workspace needs a cache: entry, and the actions share no files.",
		},
		actions: []action{
			{name: "test", comment: "Run the tests of every package.", run: "go test ./...", timeout: testTimeout},
			{name: "vet", comment: "Report suspicious constructs.", run: "go vet ./..."},
			{name: "build", comment: "Check that every package compiles.", run: "go build ./..."},
		},
	}
	has, err := hasGoFiles(dir)
	if err != nil {
		return plan{}, err
	}
	if !has {
		// "./..." matching no package makes go test and go vet exit 1;
		// say so rather than leave a puzzling first failure.
		p.notes = append(p.notes,
			"No .go files yet: go test and go vet fail with \"matched no packages\"",
			"until the module has at least one package.")
	}
	return p, nil
}

// hasGoFiles reports whether any package of the module may exist below
// dir, skipping the directories the go command itself ignores.
func hasGoFiles(dir string) (bool, error) {
	found := false
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != dir && (name == "testdata" || name == "vendor" ||
				strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(name, ".go") {
			found = true
			return fs.SkipAll
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("look for Go files: %w", err)
	}
	return found, nil
}
