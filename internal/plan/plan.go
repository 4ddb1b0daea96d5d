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
	Index int
	Name  string
	// Approval "manual" holds the stage until someone approves it.
	Approval  string
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

	// Deploy and Environment name a service and where to deploy it
	// instead of running Script.
	Deploy      string
	Environment string
	// Outputs, Inputs and the cache fields mirror spec.Action.
	Outputs       []string
	Inputs        []string
	NoResultCache bool
	CachePaths    []string
	CacheKey      []string
	Secrets       []string
	Sidecars      []spec.Sidecar
	// Before lists every node that has finished whenever this one starts:
	// its needs, transitively, and every node of earlier stages (and, for
	// on_failure and finally, the stage's actions). Their outputs are
	// part of this node's cache key.
	Before []*Node
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
	var earlier []*Node
	for i, st := range p.Stages {
		s := &Stage{
			Index:     i,
			Name:      st.Name,
			Approval:  st.Approval,
			Actions:   graph(p, st.Name, "action", st.Actions),
			OnFailure: graph(p, st.Name, "on_failure", st.OnFailure),
			Finally:   graph(p, st.Name, "finally", st.Finally),
		}
		out.Stages = append(out.Stages, s)
		s.Actions.before(earlier)
		withActions := append(slices.Clip(earlier), s.Actions.Nodes...)
		s.OnFailure.before(withActions)
		s.Finally.before(append(slices.Clip(withActions), s.OnFailure.Nodes...))
		earlier = append(withActions, s.OnFailure.Nodes...)
		earlier = append(earlier, s.Finally.Nodes...)
	}
	return out
}

// before fills each node's Before: the given earlier nodes plus its needs,
// transitively, in a stable order.
func (g *Graph) before(earlier []*Node) {
	for _, n := range g.Nodes {
		seen := map[*Node]bool{}
		var walk func(m *Node)
		var needs []*Node
		walk = func(m *Node) {
			for _, j := range m.Needs {
				d := g.Nodes[j]
				if !seen[d] {
					seen[d] = true
					walk(d)
					needs = append(needs, d)
				}
			}
		}
		walk(n)
		n.Before = append(slices.Clip(earlier), needs...)
	}
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

			Deploy:        a.Deploy,
			Environment:   a.Environment,
			Outputs:       slices.Clone(a.Outputs),
			Inputs:        a.Inputs,
			NoResultCache: a.NoResultCache,
			CachePaths:    slices.Clone(a.CachePaths),
			CacheKey:      slices.Clone(a.CacheKey),
			Secrets:       slices.Clone(a.Secrets),
			Sidecars:      slices.Clone(a.Sidecars),
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
