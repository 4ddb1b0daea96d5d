package runs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/velocity-ci/velocity/internal/netport"
	"github.com/velocity-ci/velocity/internal/plan"
	"github.com/velocity-ci/velocity/internal/source"
	"github.com/velocity-ci/velocity/internal/spec"
)

// ErrNoMatch is wrapped by the error of a name that selects no action.
var ErrNoMatch = plan.ErrNoMatch

// LoadPipeline reads and validates the velocity.yml at path, naming it
// shown in messages; dir names the project when the file does not.
// Errors: an InvalidError (ErrInvalid) with every problem of the file.
func LoadPipeline(path, shown, dir string) (*spec.Pipeline, error) {
	p, err := spec.Load(path)
	if err != nil {
		var errs spec.Errors
		if errors.As(err, &errs) {
			lines := make([]string, len(errs))
			for i, e := range errs {
				e.File = shown
				lines[i] = e.Error()
			}
			return nil, &InvalidError{Problems: lines, Err: fmt.Errorf("%s has %d %s", shown, len(errs), plural(len(errs), "error"))}
		}
		if errors.Is(err, fs.ErrNotExist) {
			return nil, invalidf("%s: no such file; run 'velocity init' to create one", shown)
		}
		return nil, &InvalidError{Err: err}
	}
	if p.Name == "" {
		p.Name = filepath.Base(dir)
	}
	return p, nil
}

// RelPath shortens path for messages when it lies below the working
// directory.
func RelPath(path string) string {
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	if rel, err := filepath.Rel(wd, path); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return path
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// selectActions compiles p and picks the part of it the run executes
// (nil: all of it); a name that selects nothing is ErrInvalid wrapping
// ErrNoMatch.
func selectActions(p *spec.Pipeline, only, skip []string) (*plan.Plan, *plan.Selection, error) {
	pl := plan.Compile(p)
	sel, err := plan.Select(pl, only, skip)
	if err != nil {
		return nil, nil, &InvalidError{Err: err}
	}
	return pl, sel, nil
}

// selects reports whether the run takes a node for which has is true:
// 'velocity run test' has no use for the proxy, and must not fail because
// its port is taken.
func selects(pl *plan.Plan, sel *plan.Selection, has func(*plan.Node) bool) bool {
	found := false
	pl.Each(func(_ *plan.Stage, n *plan.Node) {
		found = found || has(n) && sel.Has(n)
	})
	return found
}

// pulledIn says which actions a partial run adds and why, one line per
// selected action that needs some: "build/test, build/package (needed by
// staging/acceptance)".
func pulledIn(sel *plan.Selection) []string {
	var lines []string
	var by []*plan.Node
	names := map[*plan.Node][]string{}
	for _, p := range sel.Pulled {
		if names[p.By] == nil {
			by = append(by, p.By)
		}
		names[p.By] = append(names[p.By], p.Node.ID())
	}
	for _, b := range by {
		lines = append(lines, fmt.Sprintf("%s (needed by %s)", strings.Join(names[b], ", "), b.ID()))
	}
	return lines
}

// portRange is the range of flag (--port-range), else velocity.yml's
// port_range (shown names the file), else zero.
func portRange(flag string, p *spec.Pipeline, shown string) (netport.Range, error) {
	if flag != "" {
		r, err := netport.Parse(flag, "--port-range")
		if err != nil {
			return netport.Range{}, invalidf("--port-range: %v", err)
		}
		return r, nil
	}
	if r := p.PortRange; !r.IsZero() {
		return netport.Range{Low: r.Low, High: r.High,
			Source: fmt.Sprintf("port_range at %s:%d:%d", shown, r.Pos.Line, r.Pos.Col)}, nil
	}
	return netport.Range{}, nil
}

func describeSnapshot(s source.Snapshot) string {
	var b strings.Builder
	if s.Commit != "" {
		fmt.Fprintf(&b, " at %.12s", s.Commit)
	}
	if s.Branch != "" {
		fmt.Fprintf(&b, " (%s)", s.Branch)
	}
	if s.Note != "" {
		fmt.Fprintf(&b, "; %s", s.Note)
	}
	return b.String()
}

// shape describes the part of pl the run takes, for RunStarted.
func shape(pl *plan.Plan, sel *plan.Selection) []Stage {
	var stages []Stage
	pl.Each(func(s *plan.Stage, n *plan.Node) {
		if !sel.Has(n) {
			return
		}
		if len(stages) == 0 || stages[len(stages)-1].Index != s.Index {
			stages = append(stages, Stage{Index: s.Index, Name: s.Name})
		}
		st := &stages[len(stages)-1]
		st.Actions = append(st.Actions, Action{ID: n.ID(), Name: n.Name, Kind: n.Kind,
			Needs: n.NeedNames, Attempts: n.Attempts, AllowFailure: n.AllowFailure})
	})
	return stages
}

// DescribeSelection says in words what a partial run selected.
func DescribeSelection(only, skip []string) string { return plan.Describe(only, skip) }

// Validate checks a request to run the working tree of req.Dir without a
// data directory: the flags, the definition, the names it selects. It
// returns the definition, which Start takes as req.Definition instead of
// reading the file again. Errors: ErrInvalid, as Start would return them.
func Validate(req StartRequest) (*spec.Pipeline, error) {
	if err := checkJobs(req); err != nil {
		return nil, err
	}
	if fi, err := os.Stat(req.Dir); err != nil || !fi.IsDir() {
		return nil, invalidf("%s is not a directory", req.Dir)
	}
	path := filepath.Join(req.Dir, spec.FileName)
	p, err := LoadPipeline(path, RelPath(path), req.Dir)
	if err != nil {
		return nil, err
	}
	if _, _, err = selectActions(p, req.Only, req.Skip); err != nil {
		return nil, err
	}
	return p, nil
}

// checkJobs is the one rule for the parallelism a request asks for, which
// Validate (before the data directory is opened) and Start (for callers
// of the API) both apply.
func checkJobs(req StartRequest) error {
	if req.Jobs < 1 {
		return invalidf("--jobs must be at least 1, got %d", req.Jobs)
	}
	return nil
}
