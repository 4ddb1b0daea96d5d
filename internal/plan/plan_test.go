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
