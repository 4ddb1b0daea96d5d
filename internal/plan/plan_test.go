package plan_test

import (
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
		if got := names(tc.n.Before); got != tc.want {
			t.Errorf("%s: Before = %q, want %q", tc.n.ID(), got, tc.want)
		}
	}
}
