package spec

import (
	"fmt"
	"slices"
	"strings"

	"github.com/velocity-ci/velocity/internal/typo"
)

// checkNeeds resolves the needs of one list of a stage and reports each
// need that names no action of that list, repeats, names its own action,
// or closes a cycle.
func checkNeeds(c *collector, s *Stage, ss *stageSource, list int) {
	lists := stageLists(s)
	actions, srcs := lists[list], ss.lists[list]
	byName := map[string]int{}
	for i, a := range actions {
		if _, dup := byName[a.Name]; !dup && a.Name != "" {
			byName[a.Name] = i
		}
	}
	// graph[i][k] is the action that the k-th need of action i names, or
	// -1 when that need was reported and takes no part in the cycle check.
	graph := make([][]int, len(actions))
	for i, a := range actions {
		path := join(srcs[i].path, "needs")
		graph[i] = make([]int, len(a.Needs))
		seen := map[string]bool{}
		for k, need := range a.Needs {
			graph[i][k] = -1
			pos := srcs[i].needs[k]
			j, known := byName[need]
			switch {
			case seen[need]:
				c.add(pos, path, "%q is listed twice", need)
			case need == a.Name:
				c.add(pos, path, "%q cannot need itself", need)
			case !known:
				c.add(pos, path, "%s", unknownNeed(need, a.Name, s, list))
			default:
				graph[i][k] = j
			}
			seen[need] = true
		}
	}
	for _, cyc := range findCycles(graph) {
		names := make([]string, 0, len(cyc.path)+1)
		for _, i := range cyc.path {
			names = append(names, actions[i].Name)
		}
		names = append(names, names[0])
		last := cyc.path[len(cyc.path)-1]
		c.add(srcs[last].needs[cyc.need], join(srcs[last].path, "needs"),
			"needs form a cycle: %s", strings.Join(names, " -> "))
	}
}

// unknownNeed explains a need that names no action of its list, pointing
// to the likely typo or to the list where that action actually is.
func unknownNeed(need, self string, s *Stage, list int) string {
	what := [...]string{"an action", "an on_failure action", "a finally action"}[list]
	where := "this stage"
	if s.Name != "" {
		where = fmt.Sprintf("stage %q", s.Name)
	}
	msg := fmt.Sprintf("%q is not %s in %s", need, what, where)
	lists := stageLists(s)
	for other, actions := range lists {
		if other != list && slices.ContainsFunc(actions, func(a Action) bool { return a.Name == need }) {
			return msg + fmt.Sprintf(" (it is in %s; needs can only name actions of the same list)", listKey(other))
		}
	}
	var names []string
	for _, a := range lists[list] {
		if a.Name != self && a.Name != "" {
			names = append(names, a.Name)
		}
	}
	return msg + typo.DidYouMean(need, names)
}

// cycle is a loop of needs: path[0] needs path[1], and so on, and the
// last action of path needs path[0] through its need number need.
type cycle struct {
	path []int
	need int
}

// findCycles returns one cycle for every need that closes a loop, found
// by a depth-first search in list order. graph[i] holds, per need of
// action i, the action it names or -1 to skip it.
func findCycles(graph [][]int) []cycle {
	const (
		unvisited = iota
		onPath
		finished
	)
	state := make([]int, len(graph))
	var path []int
	var found []cycle
	var visit func(int)
	visit = func(u int) {
		state[u] = onPath
		path = append(path, u)
		for k, v := range graph[u] {
			if v < 0 {
				continue
			}
			switch state[v] {
			case unvisited:
				visit(v)
			case onPath:
				start := slices.Index(path, v)
				found = append(found, cycle{path: slices.Clone(path[start:]), need: k})
			}
		}
		path = path[:len(path)-1]
		state[u] = finished
	}
	for u := range graph {
		if state[u] == unvisited {
			visit(u)
		}
	}
	return found
}
