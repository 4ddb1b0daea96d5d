// Package plan compiles a velocity.yml into what the engine executes: the
// stages in order, each with its DAGs of actions, their resolved
// environment and limits. It depends on nothing but the standard library
// and spec, so that every executor and the UI can share it.
package plan

import (
	"maps"
	"slices"
	"time"

	"github.com/velocity-ci/velocity/internal/spec"
)

// Plan is a compiled pipeline.
type Plan struct {
	Project string
	Stages  []*Stage
}

// Stage is a stage's three DAGs: its actions, then on_failure (only when the
// actions failed), then finally (always).
type Stage struct {
	Index     int
	Name      string
	Actions   *Graph
	OnFailure *Graph
	Finally   *Graph
}

// Graph is a set of nodes whose Needs point inside the same graph.
type Graph struct {
	Nodes []*Node
}

// Node is one action.
type Node struct {
	Stage string
	Name  string
	// Kind is "action", "on_failure" or "finally".
	Kind   string
	Script string
	// Env is the pipeline's env overlaid with the action's.
	Env map[string]string
	// Needs holds indexes into the graph's Nodes.
	Needs        []int
	NeedNames    []string
	Timeout      time.Duration
	Attempts     int
	Backoff      time.Duration
	AllowFailure bool
}

// ID is "stage/action", the name used in log prefixes.
func (n *Node) ID() string { return n.Stage + "/" + n.Name }

// Len is the number of nodes in all stages.
func (p *Plan) Len() int {
	n := 0
	for _, s := range p.Stages {
		n += len(s.Actions.Nodes) + len(s.OnFailure.Nodes) + len(s.Finally.Nodes)
	}
	return n
}

// Each calls fn for every node in definition order.
func (p *Plan) Each(fn func(s *Stage, n *Node)) {
	for _, s := range p.Stages {
		for _, g := range []*Graph{s.Actions, s.OnFailure, s.Finally} {
			for _, n := range g.Nodes {
				fn(s, n)
			}
		}
	}
}

// Compile turns a validated pipeline into a plan. It trusts spec's
// validation: every need names an action of the same list.
func Compile(p *spec.Pipeline) *Plan {
	out := &Plan{Project: p.Name}
	for i, st := range p.Stages {
		out.Stages = append(out.Stages, &Stage{
			Index:     i,
			Name:      st.Name,
			Actions:   graph(p, st.Name, "action", st.Actions),
			OnFailure: graph(p, st.Name, "on_failure", st.OnFailure),
			Finally:   graph(p, st.Name, "finally", st.Finally),
		})
	}
	return out
}

func graph(p *spec.Pipeline, stage, kind string, actions []spec.Action) *Graph {
	g := &Graph{}
	index := make(map[string]int, len(actions))
	for i, a := range actions {
		index[a.Name] = i
	}
	for _, a := range actions {
		env := maps.Clone(p.Env)
		if env == nil {
			env = map[string]string{}
		}
		maps.Copy(env, a.Env)
		attempts := max(a.Retry.Attempts, 1)
		n := &Node{
			Stage:        stage,
			Name:         a.Name,
			Kind:         kind,
			Script:       a.Run,
			Env:          env,
			NeedNames:    slices.Clone(a.Needs),
			Timeout:      a.Timeout,
			Attempts:     attempts,
			Backoff:      a.Retry.Backoff,
			AllowFailure: a.AllowFailure,
		}
		for _, need := range a.Needs {
			if j, ok := index[need]; ok {
				n.Needs = append(n.Needs, j)
			}
		}
		g.Nodes = append(g.Nodes, n)
	}
	return g
}
