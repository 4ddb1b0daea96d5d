package runs

import (
	"context"
	"fmt"

	"github.com/velocity-ci/velocity/internal/expr"
	"github.com/velocity-ci/velocity/internal/source"
	"github.com/velocity-ci/velocity/internal/spec"
	"github.com/velocity-ci/velocity/internal/store"
)

// baseRunsScanned is how many of a project's latest runs are searched
// for the last successful one, the base of changed().
const baseRunsScanned = 200

// conditionFacts gathers what if: conditions see for a run started here.
// changed() compares the run's files with the commit of the project's
// last successful run from the same directory; without one (or when that
// commit is gone) every changed() is true. note says which base was used,
// "" when no condition calls changed().
func conditionFacts(ctx context.Context, runs store.Store, p *spec.Pipeline, dir, rev string, snap source.Snapshot) (facts expr.Facts, note string) {
	facts = expr.Facts{Branch: snap.Branch, Event: "local"}
	if !usesChanged(p) {
		return facts, ""
	}
	list, err := runs.Runs(ctx, store.RunFilter{Project: p.Name, Limit: baseRunsScanned})
	if err != nil {
		return facts, fmt.Sprintf("changed() is true everywhere: the run history cannot be read (%v)", err)
	}
	for _, r := range list {
		if r.Status != store.Succeeded || r.Dir != dir || r.Commit == "" {
			continue
		}
		// ErrNoBase (the commit is gone) or a failing git: unknown.
		files, err := source.Changed(ctx, dir, r.Commit, rev)
		if err != nil {
			return facts, fmt.Sprintf("changed() is true everywhere: %v", err)
		}
		facts.Changed, facts.ChangesKnown = files, true
		return facts, fmt.Sprintf("changed() compares with run %d (%.12s): %d %s changed", r.ID, r.Commit, len(files), plural(len(files), "file"))
	}
	return facts, "changed() is true everywhere: no earlier successful run to compare with"
}

// usesChanged reports whether some condition of p calls changed().
func usesChanged(p *spec.Pipeline) bool {
	uses := func(c *spec.Condition) bool { return c != nil && len(c.Expr.Patterns()) > 0 }
	for _, st := range p.Stages {
		if uses(st.If) {
			return true
		}
		for _, list := range [][]spec.Action{st.Actions, st.OnFailure, st.Finally} {
			for _, a := range list {
				if uses(a.If) {
					return true
				}
			}
		}
	}
	return false
}
