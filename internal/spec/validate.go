package spec

import (
	"cmp"
	"slices"
)

// validate runs the checks that relate stages and actions to each other:
// unique names, needs that resolve without cycles, and services and
// deploys that name what exists (deploys.go). decode.go has
// already checked each value on its own.
func validate(c *collector, p *Pipeline, src *pipelineSource) {
	first := map[string]Pos{}
	for i := range p.Stages {
		s, ss := &p.Stages[i], &src.stages[i]
		if ss.name != (Pos{}) {
			if at, dup := first[s.Name]; dup {
				c.add(ss.name, join(ss.path, "name"), "duplicate stage name %q (first defined at line %d)", s.Name, at.Line)
			} else {
				first[s.Name] = ss.name
			}
		}
		checkActionNames(c, s, ss)
		for list := range stageLists(s) {
			checkNeeds(c, s, ss, list)
		}
	}
	checkDeploys(c, p, src, checkServices(c, p, src))
}

// stageLists returns a stage's three lists, indexed by listActions,
// listOnFailure and listFinally.
func stageLists(s *Stage) [3][]Action {
	return [3][]Action{s.Actions, s.OnFailure, s.Finally}
}

// checkActionNames reports names used twice in a stage. Names are unique
// across all three lists, not just within one, because logs, run history
// and the command line address an action by stage and name alone.
func checkActionNames(c *collector, s *Stage, ss *stageSource) {
	type named struct {
		name string
		pos  Pos
		path string
	}
	var all []named
	for list, actions := range stageLists(s) {
		for i, a := range actions {
			if src := ss.lists[list][i]; src.name != (Pos{}) {
				all = append(all, named{a.Name, src.name, join(src.path, "name")})
			}
		}
	}
	// In file order, so that "first defined" is the one a reader meets
	// first even when finally is written above actions.
	slices.SortStableFunc(all, func(a, b named) int {
		return cmp.Or(cmp.Compare(a.pos.Line, b.pos.Line), cmp.Compare(a.pos.Col, b.pos.Col))
	})
	first := map[string]Pos{}
	for _, n := range all {
		if at, dup := first[n.name]; dup {
			c.add(n.pos, n.path, "duplicate action name %q (first defined at line %d)", n.name, at.Line)
			continue
		}
		first[n.name] = n.pos
	}
}
