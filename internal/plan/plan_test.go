package plan_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/plan"
	"github.com/velocity-ci/velocity/internal/spec"
)

func TestBeforeListsEverythingFinishedWhenANodeStarts(t *testing.T) {
	p, err := spec.Parse("velocity.yml", []byte(`
stages:
  - name: build
    actions:
      - { name: a, run: "true" }
      - { name: b, run: "true", needs: [a] }
      - { name: c, run: "true", needs: [b] }
      - { name: d, run: "true" }
    finally:
      - { name: f, run: "true" }
  - name: test
    actions:
      - { name: e, run: "true" }
`))
	if err != nil {
		t.Fatal(err)
	}
	pl := plan.Compile(p)
	names := func(ns []*plan.Node) string {
		s := ""
		for _, n := range ns {
			s += n.ID() + " "
		}
		return s
	}
	build, test := pl.Stages[0], pl.Stages[1]
	for _, tc := range []struct {
		n    *plan.Node
		want string
	}{
		{build.Actions.Nodes[0], ""},
		{build.Actions.Nodes[2], "build/a build/b "},
		{build.Actions.Nodes[3], ""},
		{build.Finally.Nodes[0], "build/a build/b build/c build/d "},
		{test.Actions.Nodes[0], "build/a build/b build/c build/d build/f "},
	} {
		if got := names(tc.n.Before()); got != tc.want {
			t.Errorf("%s: Before = %q, want %q", tc.n.ID(), got, tc.want)
		}
	}
}

func TestBeforeListsEachNeedAfterItsOwnNeeds(t *testing.T) {
	p, err := spec.Parse("velocity.yml", []byte(`
stages:
  - name: s
    actions:
      - { name: a, run: "true" }
      - { name: c, run: "true", needs: [a] }
      - { name: b, run: "true", needs: [a] }
      - { name: d, run: "true", needs: [b, c] }
      - { name: e, run: "true", needs: [d, a] }
`))
	if err != nil {
		t.Fatal(err)
	}
	e := plan.Compile(p).Stages[0].Actions.Nodes[4]
	got := ""
	for _, n := range e.Before() {
		got += n.Name + " "
	}
	// The order is part of the result cache key: it must not change.
	if want := "a b c d "; got != want {
		t.Errorf("Before = %q, want %q", got, want)
	}
}

// chain is a pipeline of n actions, each needing the one before.
func chain(n int) *spec.Pipeline {
	var b strings.Builder
	b.WriteString("stages:\n  - name: s\n    actions:\n      - {name: a0, run: \"true\"}\n")
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, "      - {name: a%d, run: \"true\", needs: [a%d]}\n", i, i-1)
	}
	p, err := spec.Parse("velocity.yml", []byte(b.String()))
	if err != nil {
		panic(err)
	}
	return p
}

func TestCompileIsLinearInALongChain(t *testing.T) {
	p := chain(5_000)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	pl := plan.Compile(p)
	runtime.ReadMemStats(&after)
	// Storing every node's transitive needs took 1.2 GB and 12 s here (5
	// GB for 10,000); a node and its env are a few hundred bytes.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 20<<20 {
		t.Errorf("Compile of a 5,000-action chain allocated %d MB", alloc>>20)
	}
	last := pl.Stages[0].Actions.Nodes[4_999]
	if n := len(last.Before()); n != 4_999 {
		t.Errorf("the last action has %d actions before it, want 4999", n)
	}
}

func TestCompileExpandsAMatrixIntoCells(t *testing.T) {
	p, err := spec.Parse("velocity.yml", []byte(`
env: {A: pipeline}
stages:
  - name: s
    actions:
      - name: test
        run: "true"
        matrix:
          go: ["1.25", "1.26"]
          os: [linux]
          max_parallel: 1
      - { name: package, run: "true", needs: [test] }
`))
	if err != nil {
		t.Fatal(err)
	}
	g := plan.Compile(p).Stages[0].Actions
	var names []string
	for _, n := range g.Nodes {
		names = append(names, n.Name)
	}
	if got, want := strings.Join(names, " "), "test@go=1.25,os=linux test@go=1.26,os=linux package"; got != want {
		t.Fatalf("nodes %q, want %q", got, want)
	}
	cell := g.Nodes[1]
	if cell.Env["MATRIX_GO"] != "1.26" || cell.Env["MATRIX_OS"] != "linux" || cell.Env["A"] != "pipeline" {
		t.Errorf("cell env = %v", cell.Env)
	}
	if cell.Cell["go"] != "1.26" || cell.Matrix == nil || cell.Matrix != g.Nodes[0].Matrix || cell.Matrix.MaxParallel != 1 || !cell.Matrix.FailFast {
		t.Errorf("cell = %+v, matrix %+v", cell.Cell, cell.Matrix)
	}
	if g.Nodes[0].Env["MATRIX_GO"] != "1.25" {
		t.Errorf("cells share an env map: %v", g.Nodes[0].Env)
	}
	pkg := g.Nodes[2]
	if got := strings.Join(pkg.NeedNames, " "); got != "test@go=1.25,os=linux test@go=1.26,os=linux" {
		t.Errorf("package needs %q, want every cell", got)
	}
	if pkg.Matrix != nil || pkg.Env["MATRIX_GO"] != "" {
		t.Errorf("package has matrix values: %+v %v", pkg.Matrix, pkg.Env)
	}
}
