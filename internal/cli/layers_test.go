package cli

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// mechanisms are the packages an adapter reaches only through the
// application services: the CLI and the server render what a service
// returns and never drive an engine, a process or the store's files
// themselves.
var mechanisms = []string{
	"internal/engine",
	"internal/executor",
	"internal/runtime",
	"internal/proxy",
	"internal/deploy",
	"internal/sidecar",
	"internal/source",
	"internal/artifact",
	"internal/store/sqlite",
	"internal/reaper",
	"internal/proc",
	"internal/lockfile",
	"internal/plan",
	"internal/workflow/task",
	"internal/registry",
}

func TestAdaptersImportNoMechanism(t *testing.T) {
	for _, pkg := range []string{".", "../server"} {
		out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		for _, imp := range strings.Fields(string(out)) {
			for _, m := range mechanisms {
				if strings.HasSuffix(imp, m) || strings.Contains(imp, m+"/") {
					t.Errorf("%s imports %s: call an application service instead", pkg, imp)
				}
			}
		}
	}
}

// maxLines keeps each command a reading of flags, one service call and
// its rendering; a longer function is a use case that belongs in a
// service, or rendering that wants a helper of its own.
const maxLines = 80

func TestCLIFunctionsAreShort(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			from, to := fset.Position(fn.Pos()).Line, fset.Position(fn.End()).Line
			if n := to - from + 1; n > maxLines {
				t.Errorf("%s:%d: %s is %d lines long (at most %d)", name, from, fn.Name.Name, n, maxLines)
			}
		}
	}
}
