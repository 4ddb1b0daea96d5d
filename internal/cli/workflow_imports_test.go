package cli

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The workflow commands are adapters of the executions service: they
// reach no mechanism of running executions themselves.
func TestWorkflowCommandsUseOnlyTheService(t *testing.T) {
	forbidden := []string{"lockfile", "reaper", "engine", "store/sqlite", "workflow"}
	files, err := filepath.Glob("workflow*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			rel, ok := strings.CutPrefix(path, "github.com/velocity-ci/velocity/internal/")
			if !ok {
				continue
			}
			for _, pkg := range forbidden {
				if rel == pkg || strings.HasPrefix(rel, pkg+"/") {
					t.Errorf("%s imports %s", file, path)
				}
			}
		}
	}
}
