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
	if !checkActionCount(c, p, src) {
		// Past the limit, per-action checks would only add noise: an
		// action repeated by an alias is a duplicate each time.
		return
	}
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

// MaxActions is the most actions a pipeline may hold, counting every
// stage's actions, on_failure and finally, and every cell of a matrix
// (limit "max actions"). Each
// becomes a process, a journal row and a log file per run; validation and
// planning take linear time, a 20,000-action chain well under 2 s. A 1 MiB
// file holds at most about 45,000 of the shortest actions, so the limit
// binds on lists repeated by YAML aliases.
const MaxActions = 50_000

// checkActionCount reports a pipeline over MaxActions at the first action
// past the limit and returns false.
func checkActionCount(c *collector, p *Pipeline, src *pipelineSource) bool {
	n := 0
	for i := range p.Stages {
		for list, actions := range stageLists(&p.Stages[i]) {
			for k := range actions {
				if n += actions[k].size(); n > MaxActions {
					over := src.stages[i].lists[list][k]
					c.add(over.at, over.path,
						"the pipeline has more than %d actions (limit %q is %d); split it into several pipelines (each matrix cell counts as an action)",
						MaxActions, "max actions", MaxActions)
					return false
				}
			}
		}
	}
	return true
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
