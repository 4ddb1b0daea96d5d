package asl

import "github.com/velocity-ci/velocity/internal/typo"

// Transitions: every StartAt, Next, Default and Catch Next names a state
// of its own scope, every state is reachable, and every scope can end.

// scope is one States object: states may only move between the states of
// their own scope.
type scope struct {
	ptr      string
	startAt  *node
	states   *node
	edges    map[string][]edge
	terminal bool
	// unsure is set when a state's type or a transition could not be
	// read: "no terminal state" or "unreachable" would then only be
	// consequences of that problem.
	unsure bool
}

// edge is a transition from a state to the state named target, written
// at n (a Next, Default or Catch Next).
type edge struct {
	target string
	n      *node
	ptr    string
}

// transition checks a Next, Default or Catch Next and records the edge.
// One that is not a name leaves the scope unsure: which states it reaches
// is unknown, so none is reported unreachable on its account.
func (v *validator) transition(sc *scope, from string, n *node, ptr string) {
	if _, ok := v.nonEmpty(n, ptr); !ok {
		sc.unsure = true
		return
	}
	sc.edges[from] = append(sc.edges[from], edge{target: n.text, n: n, ptr: ptr})
}

// transitions checks, once every state name is known, that StartAt and
// every transition name a state of their own scope, that every state can
// be reached, and that each scope can end.
func (v *validator) transitions() {
	for _, sc := range v.scopes {
		local := map[string]bool{}
		var names []string
		for _, f := range sc.states.fields {
			local[f.key] = true
			names = append(names, f.key)
		}
		target := func(name string, n *node, ptr, what string) bool {
			if local[name] {
				return true
			}
			if _, elsewhere := v.names[name]; elsewhere {
				v.r.add(n.pos, ptr, "%s %q is a state of another scope; a Parallel branch or Map processor only moves between its own states", what, name)
				return false
			}
			v.r.add(n.pos, ptr, "%s %q names no state%s", what, name, typo.DidYouMean(name, names))
			return false
		}
		start := ""
		if sc.startAt != nil && target(sc.startAt.text, sc.startAt, pointerJoin(sc.ptr, "StartAt"), "StartAt") {
			start = sc.startAt.text
		}
		for _, f := range sc.states.fields {
			for _, e := range sc.edges[f.key] {
				target(e.target, e.n, e.ptr, "transition to")
			}
		}
		if !sc.terminal && !sc.unsure {
			v.r.add(sc.states.pos, pointerJoin(sc.ptr, "States"), `has no terminal state: at least one state needs "End": true or type Succeed or Fail`)
		}
		if start == "" || sc.unsure {
			continue
		}
		reached := map[string]bool{start: true}
		queue := []string{start}
		for len(queue) > 0 {
			cur := queue[0]
			queue = queue[1:]
			for _, e := range sc.edges[cur] {
				if local[e.target] && !reached[e.target] {
					reached[e.target] = true
					queue = append(queue, e.target)
				}
			}
		}
		for _, f := range sc.states.fields {
			if !reached[f.key] {
				v.r.add(f.keyPos, pointerJoin(pointerJoin(sc.ptr, "States"), f.key), "state %q is unreachable: no transition from StartAt %q leads to it", f.key, start)
			}
		}
	}
}
