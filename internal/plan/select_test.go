package plan_test

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/plan"
	"github.com/velocity-ci/velocity/internal/spec"
)

const selectPipeline = `
stages:
  - name: build
    actions:
      - { name: lint, run: "true" }
      - { name: test, run: "true" }
      - { name: package, run: "true", needs: [test], outputs: [dist] }
      - { name: docs, run: "true", outputs: [site] }
    finally:
      - { name: cleanup, run: "true" }
  - name: staging
    actions:
      - { name: deploy, run: "true" }
      - { name: acceptance, run: "true", needs: [deploy] }
  - name: production
    approval: manual
    actions:
      - { name: deploy, run: "true" }
`

func compile(t *testing.T, src string) *plan.Plan {
	t.Helper()
	p, err := spec.Parse("velocity.yml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return plan.Compile(p)
}

// runs lists the nodes a selection runs, in definition order.
func runs(p *plan.Plan, s *plan.Selection) string {
	var ids []string
	p.Each(func(_ *plan.Stage, n *plan.Node) {
		if s.Has(n) {
			ids = append(ids, n.ID())
		}
	})
	return strings.Join(ids, " ")
}

func pulled(s *plan.Selection) string {
	var out []string
	for _, pl := range s.Pulled {
		out = append(out, fmt.Sprintf("%s<-%s", pl.Node.ID(), pl.By.ID()))
	}
	return strings.Join(out, " ")
}

func TestSelect(t *testing.T) {
	p := compile(t, selectPipeline)
	for _, tc := range []struct {
		name       string
		only, skip []string
		runs       string
		pulled     string
	}{
		{name: "an action by its name runs with its stage's clean-up",
			only: []string{"test"}, runs: "build/test build/cleanup"},
		{name: "a stage runs all of its actions",
			only: []string{"build"}, runs: "build/lint build/test build/package build/docs build/cleanup"},
		{name: "a need is pulled in",
			only: []string{"package"}, runs: "build/test build/package build/cleanup", pulled: "build/test<-build/package"},
		{name: "a later stage pulls in its needs and every earlier output, not lint",
			only:   []string{"staging/acceptance"},
			runs:   "build/test build/package build/docs build/cleanup staging/deploy staging/acceptance",
			pulled: "build/test<-staging/acceptance build/package<-staging/acceptance build/docs<-staging/acceptance staging/deploy<-staging/acceptance"},
		{name: "a glob on both sides",
			only: []string{"build/*"}, runs: "build/lint build/test build/package build/docs build/cleanup"},
		{name: "a bare glob matches actions of every stage",
			only:   []string{"dep*"},
			runs:   "build/test build/package build/docs build/cleanup staging/deploy production/deploy",
			pulled: "build/test<-staging/deploy build/package<-staging/deploy build/docs<-staging/deploy"},
		{name: "skip alone runs the rest",
			skip: []string{"lint"}, runs: "build/test build/package build/docs build/cleanup staging/deploy staging/acceptance production/deploy"},
		{name: "skipping a need without outputs keeps the order only",
			only: []string{"package"}, skip: []string{"test"}, runs: "build/package build/cleanup"},
		{name: "skip applies to clean-up too",
			only: []string{"build/lint"}, skip: []string{"cleanup"}, runs: "build/lint"},
		{name: "patterns add up",
			only: []string{"lint", "docs"}, runs: "build/lint build/docs build/cleanup"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := plan.Select(p, tc.only, tc.skip)
			if err != nil {
				t.Fatal(err)
			}
			if got := runs(p, s); got != tc.runs {
				t.Errorf("runs %q\nwant %q", got, tc.runs)
			}
			if got := pulled(s); got != tc.pulled {
				t.Errorf("pulled %q\nwant %q", got, tc.pulled)
			}
		})
	}
}

func TestSelectRefuses(t *testing.T) {
	p := compile(t, selectPipeline)
	for _, tc := range []struct {
		only, skip []string
		err        error
		says       string
	}{
		{only: []string{"tset"}, err: plan.ErrNoMatch, says: `did you mean "test"?`},
		{only: []string{"stagin"}, err: plan.ErrNoMatch, says: `did you mean "staging"?`},
		{only: []string{"build/pakage"}, err: plan.ErrNoMatch, says: `did you mean "build/package"?`},
		{only: []string{"nope/*"}, err: plan.ErrNoMatch, says: `"nope/*" matches no action`},
		{only: []string{"build/["}, err: path.ErrBadPattern, says: `"build/[": syntax error in pattern`},
		{only: []string{"deploy"}, err: plan.ErrAmbiguous, says: "write staging/deploy or production/deploy"},
		{skip: []string{"lnt"}, err: plan.ErrNoMatch, says: `--skip lnt: "lnt" is neither a stage nor an action (did you mean "lint"?)`},
		{only: []string{"test"}, skip: []string{"build"}, err: plan.ErrNothingSelected},
		{only: []string{"staging/acceptance"}, skip: []string{"package"}, err: plan.ErrSkipNeeded,
			says: "cannot skip build/package: staging/acceptance reads its outputs (dist)"},
	} {
		t.Run(plan.Describe(tc.only, tc.skip), func(t *testing.T) {
			_, err := plan.Select(p, tc.only, tc.skip)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if !strings.Contains(err.Error(), tc.says) {
				t.Errorf("err = %q, want it to say %q", err, tc.says)
			}
		})
	}
}

func TestSelectNameOfBothAStageAndAnAction(t *testing.T) {
	p := compile(t, `
stages:
  - name: build
    actions:
      - { name: test, run: "true" }
  - name: test
    actions:
      - { name: unit, run: "true" }
`)
	_, err := plan.Select(p, []string{"test"}, nil)
	if !errors.Is(err, plan.ErrAmbiguous) || !strings.Contains(err.Error(), "write test/* for the stage or build/test for the action") {
		t.Fatalf("err = %v", err)
	}
}

func TestSelectNothingIsTheWholePlan(t *testing.T) {
	s, err := plan.Select(compile(t, selectPipeline), nil, nil)
	if err != nil || s != nil {
		t.Fatalf("Select() = %v, %v; want nil, nil", s, err)
	}
	if !s.Has(&plan.Node{}) {
		t.Error("a nil selection must have every node")
	}
}

func TestSelectIsLinearInALongPipeline(t *testing.T) {
	// 5,000 stages of one action with outputs: selecting the last pulls in
	// every other one; a quadratic walk took seconds here.
	var b strings.Builder
	b.WriteString("stages:\n")
	for i := range 5_000 {
		fmt.Fprintf(&b, "  - name: s%d\n    actions:\n      - {name: a, run: \"true\", outputs: [o%d]}\n", i, i)
	}
	p := compile(t, b.String())
	s, err := plan.Select(p, []string{"s4999/a"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 5_000 || len(s.Pulled) != 4_999 {
		t.Errorf("%d run, %d pulled in; want 5000 and 4999", s.Len(), len(s.Pulled))
	}
}

// A matrix action's name as written selects every cell, alone or with
// its stage; a cell's own name selects that cell.
func TestSelectMatrixCells(t *testing.T) {
	p := compile(t, `
stages:
  - name: build
    actions:
      - name: test
        matrix: { go: ["1", "2"] }
        run: "true"
      - { name: lint, run: "true" }
`)
	for _, tc := range []struct{ only, runs string }{
		{"test", "build/test@go=1 build/test@go=2"},
		{"build/test", "build/test@go=1 build/test@go=2"},
		{"build/test@go=2", "build/test@go=2"},
		{"t*", "build/test@go=1 build/test@go=2"},
	} {
		s, err := plan.Select(p, []string{tc.only}, nil)
		if err != nil {
			t.Errorf("%s: %v", tc.only, err)
			continue
		}
		if got := runs(p, s); got != tc.runs {
			t.Errorf("%s runs %q, want %q", tc.only, got, tc.runs)
		}
	}
}
