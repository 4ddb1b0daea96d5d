package proc

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Every child process is started by this package: no other non-test file
// of the module calls exec.Command, exec.CommandContext, os.StartProcess
// or syscall's fork and exec, builds an exec.Cmd or sets SysProcAttr.
// A second way to start a process would be a second set of process
// groups, kills and pipes, with its own bugs.
func TestOnlyProcStartsProcesses(t *testing.T) {
	root := moduleRoot(t)
	self, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor" || name == "node_modules") {
				return filepath.SkipDir
			}
			if path == self {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		checked++
		for _, u := range processStarts(fset, f) {
			rel, _ := filepath.Rel(root, path)
			t.Errorf("%s:%s: %s; start processes with package proc", rel, u.pos, u.what)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 50 {
		t.Fatalf("checked only %d files under %s: is this the module?", checked, root)
	}
}

// The check finds each form of starting a process, under any import name,
// and nothing else.
func TestProcessStartsFindsEachForm(t *testing.T) {
	const src = `package x

import (
	osexec "os/exec"
	"os"
	sys "syscall"
)

type runner struct{ cmd *osexec.Cmd }

func f() {
	osexec.Command("true")
	osexec.CommandContext(nil, "true")
	os.StartProcess("/bin/true", nil, nil)
	c := &osexec.Cmd{Path: "/bin/true", SysProcAttr: &sys.SysProcAttr{}}
	c.SysProcAttr = nil
	sys.ForkExec("/bin/true", nil, nil)
	osexec.LookPath("true")
	os.Getpid()
}
`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "x.go", src, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range processStarts(fset, f) {
		got = append(got, u.pos+" "+u.what)
	}
	want := []string{
		"9:26 uses exec.Cmd",
		"12:2 calls exec.Command",
		"13:2 calls exec.CommandContext",
		"14:2 calls os.StartProcess",
		"15:8 uses exec.Cmd",
		"15:38 sets SysProcAttr",
		"15:52 uses syscall.SysProcAttr",
		"16:4 sets SysProcAttr",
		"17:2 calls syscall.ForkExec",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("found:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

type processStart struct {
	pos  string // line:column
	what string
}

// processStarts lists the places in f that start a process or shape how
// one is started.
func processStarts(fset *token.FileSet, f *ast.File) []processStart {
	forbidden := map[string]map[string]string{
		"os/exec":               {"Command": "calls", "CommandContext": "calls", "Cmd": "uses"},
		"os":                    {"StartProcess": "calls"},
		"syscall":               {"ForkExec": "calls", "StartProcess": "calls", "Exec": "calls", "SysProcAttr": "uses"},
		"golang.org/x/sys/unix": {"Exec": "calls", "SysProcAttr": "uses"},
	}
	pkgs := map[string]string{} // local name -> import path
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		if forbidden[path] == nil {
			continue
		}
		name := path[strings.LastIndex(path, "/")+1:]
		if imp.Name != nil {
			name = imp.Name.Name
		}
		pkgs[name] = path
	}
	var out []processStart
	add := func(n ast.Node, what string) {
		p := fset.Position(n.Pos())
		out = append(out, processStart{pos: strconv.Itoa(p.Line) + ":" + strconv.Itoa(p.Column), what: what})
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.SelectorExpr:
			if id, ok := n.X.(*ast.Ident); ok {
				if path, ok := pkgs[id.Name]; ok {
					if verb, ok := forbidden[path][n.Sel.Name]; ok {
						add(n, verb+" "+path[strings.LastIndex(path, "/")+1:]+"."+n.Sel.Name)
						return true
					}
				}
			}
			if n.Sel.Name == "SysProcAttr" {
				add(n.Sel, "sets SysProcAttr")
			}
		case *ast.KeyValueExpr:
			if id, ok := n.Key.(*ast.Ident); ok && id.Name == "SysProcAttr" {
				add(id, "sets SysProcAttr")
			}
		}
		return true
	})
	return out
}

// moduleRoot is the directory holding go.mod above this package.
func moduleRoot(t *testing.T) string {
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the package")
		}
		dir = parent
	}
}
