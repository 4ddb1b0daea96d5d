package spec

import (
	"errors"
	"reflect"
	"testing"
)

func TestFindCycles(t *testing.T) {
	tests := []struct {
		name  string
		graph [][]int
		want  []cycle
	}{
		{"no needs", [][]int{{}, {}, {}}, nil},
		{"chain", [][]int{{1}, {2}, {}}, nil},
		{"diamond", [][]int{{1, 2}, {3}, {3}, {}}, nil},
		{"skipped needs are ignored", [][]int{{-1}, {0}}, nil},
		{"two actions", [][]int{{1}, {0}}, []cycle{{path: []int{0, 1}, need: 0}}},
		{"three actions", [][]int{{1}, {2}, {0}}, []cycle{{path: []int{0, 1, 2}, need: 0}}},
		{
			"closing need is not the first",
			[][]int{{1}, {2}, {-1, 3, 0}, {}},
			[]cycle{{path: []int{0, 1, 2}, need: 2}},
		},
		{
			"cycle reached from outside it",
			[][]int{{1}, {2}, {1}},
			[]cycle{{path: []int{1, 2}, need: 0}},
		},
		{
			"two separate cycles",
			[][]int{{1}, {0}, {3}, {2}},
			[]cycle{{path: []int{0, 1}, need: 0}, {path: []int{2, 3}, need: 0}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := findCycles(tt.graph); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("findCycles(%v) = %+v, want %+v", tt.graph, got, tt.want)
			}
		})
	}
}

func TestNeedsAsString(t *testing.T) {
	p, err := Parse(FileName, []byte(`
stages:
  - name: build
    actions:
      - {name: compile, run: make}
      - {name: test, run: make test, needs: compile}
      - {name: package, run: make dist, needs: [compile, test]}
      - {name: docs, run: make docs, needs: []}
`))
	if err != nil {
		t.Fatal(err)
	}
	got := [][]string{}
	for _, a := range p.Stages[0].Actions {
		got = append(got, a.Needs)
	}
	want := [][]string{nil, {"compile"}, {"compile", "test"}, nil}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("needs = %q, want %q", got, want)
	}
}

func TestNeedsCycleIsReportedOnce(t *testing.T) {
	_, err := Parse(FileName, []byte(`
stages:
  - name: build
    actions:
      - {name: a, run: x, needs: c}
      - {name: b, run: x, needs: a}
      - {name: c, run: x, needs: b}
`))
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("err = %v, want Errors", err)
	}
	want := `velocity.yml:6:34: stages[0].actions[1].needs: needs form a cycle: a -> c -> b -> a`
	if len(errs) != 1 || errs[0].Error() != want {
		t.Errorf("errors:\n%v\nwant:\n%s", err, want)
	}
}
