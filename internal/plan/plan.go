// Package plan compiles a velocity.yml into what the engine executes: the
// stages in order, each with its DAGs of actions, their resolved
// environment and limits. It depends on nothing but the standard library
// and spec, so that every executor and the UI can share it.
package plan

import (
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/velocity-ci/velocity/internal/spec"
)

// Plan is a compiled pipeline.
type Plan struct {
	Project string
	// Env is the pipeline's env, which every node's Env includes; a
	// stage's if: sees it.
	Env    map[string]string
	Stages []*Stage
}

// Stage is a stage's three DAGs: its actions, then on_failure (only when the
// actions failed), then finally (always).
type Stage struct {
	Index int
	Name  string
	// Approval "manual" holds the stage until someone approves it.
	Approval string
	// If, when set, decides whether the stage runs at all.
	If        *spec.Condition
	Actions   *Graph
	OnFailure *Graph
	Finally   *Graph
}

// Graph is a set of nodes whose Needs point inside the same graph.
type Graph struct {
	Nodes []*Node
	// earlier is every node of the plan that has finished before any
	// node of this graph starts. Graphs share one backing array, each
	// seeing a prefix of it, so a plan costs memory linear in its nodes.
	earlier []*Node
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
	// Workflow, when set, starts an execution of a state machine instead
	// of running Script.
	Workflow *spec.Workflow
	// Build, when set, builds a container image instead of running
	// Script; Inputs then default to the files of its context.
	Build *spec.Build
	// Outputs, Inputs and the cache fields mirror spec.Action.
	Outputs       []string
	Inputs        []string
	NoResultCache bool
	CachePaths    []string
	CacheKey      []string
	Secrets       []string
	Sidecars      []spec.Sidecar
	// Image is the container image the script runs in, "" for the host
	// (spec.Pipeline.RunsIn); User who it runs as there.
	Image string
	User  string
	// Memory (bytes) and CPU (cores) cap each attempt in its container.
	Memory int64
	CPU    float64

	// If, when set, decides whether the node runs once its needs are
	// done (see spec.Action.If).
	If *spec.Condition
	// Matrix is set on every cell of a matrix action, the same value for
	// all cells of one matrix; Cell holds the cell's values by variable.
	Matrix *Matrix
	Cell   map[string]string

	graph *Graph
	index int // in graph.Nodes
}

// Matrix is what the cells of one matrix action share.
type Matrix struct {
	// Action is the matrix action's name as written.
	Action string
	// MaxParallel bounds the cells running at once; 0 means no bound.
	MaxParallel int
	// FailFast stops the other cells when one fails.
	FailFast bool
}

// Before lists every node that has finished whenever this one starts: the
// nodes of earlier stages (and, for on_failure and finally, the stage's
// actions), in definition order, then its needs, transitively, each after
// its own needs. Their outputs are part of this node's cache key.
//
// It is computed on each call, in time linear in what it returns: storing
// it for every node took memory quadratic in the length of a chain of
// needs (4 GB to validate a chain of 20,000 actions).
func (n *Node) Before() []*Node {
	g := n.graph
	if g == nil {
		return nil
	}
	// A depth-first walk of the needs that lists a node once all of its
	// own needs are listed; iterative, since a chain of needs may be as
	// long as the pipeline.
	type frame struct {
		node *Node
		next int
	}
	out := slices.Clip(g.earlier)
	// A slice rather than a map: the engine asks for every attempt, and
	// with a map asking for every node of a 20,000-action chain took 5
	// times as long (156 s against 32 s).
	seen := make([]bool, len(g.Nodes))
	stack := []frame{{node: n}}
	for len(stack) > 0 {
		top := &stack[len(stack)-1]
		if top.next == len(top.node.Needs) {
			stack = stack[:len(stack)-1]
			if len(stack) > 0 {
				out = append(out, top.node)
			}
			continue
		}
		need := g.Nodes[top.node.Needs[top.next]]
		top.next++
		if !seen[need.index] {
			seen[need.index] = true
			stack = append(stack, frame{node: need})
		}
	}
	return out
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
// validation: every need names an action of the same list, and needs
// form no cycle.
func Compile(p *spec.Pipeline) *Plan {
	out := &Plan{Project: p.Name, Env: maps.Clone(p.Env)}
	// finished lists the nodes in the order stages finish them; what has
	// finished before a graph starts is always a prefix of it.
	var finished []*Node
	for i, st := range p.Stages {
		s := &Stage{
			Index:     i,
			Name:      st.Name,
			Approval:  st.Approval,
			If:        st.If,
			Actions:   graph(p, st.Name, "action", st.Actions),
			OnFailure: graph(p, st.Name, "on_failure", st.OnFailure),
			Finally:   graph(p, st.Name, "finally", st.Finally),
		}
		out.Stages = append(out.Stages, s)
		for _, g := range []*Graph{s.Actions, s.OnFailure, s.Finally} {
			// Later appends only write past the prefix g sees.
			g.earlier = finished[:len(finished):len(finished)]
			finished = append(finished, g.Nodes...)
		}
	}
	return out
}

// graph compiles one list of a stage. A matrix action becomes one node
// per cell, in the matrix's order, and a need naming it names every cell.
func graph(p *spec.Pipeline, stage, kind string, actions []spec.Action) *Graph {
	g := &Graph{}
	index := make(map[string][]int, len(actions))
	n := 0
	for _, a := range actions {
		cells := 1
		if a.Matrix != nil {
			cells = len(a.Matrix.Cells)
		}
		for range cells {
			index[a.Name] = append(index[a.Name], n)
			n++
		}
	}
	for _, a := range actions {
		var needs []int
		for _, need := range a.Needs {
			needs = append(needs, index[need]...)
		}
		if a.Matrix == nil {
			addNode(g, p, stage, kind, a, needs, a.Name, nil, nil)
			continue
		}
		m := &Matrix{Action: a.Name, MaxParallel: a.Matrix.MaxParallel, FailFast: a.Matrix.FailFast}
		for _, c := range a.Matrix.Cells {
			addNode(g, p, stage, kind, a, needs, c.Name, m, &c)
		}
	}
	for _, n := range g.Nodes {
		for _, j := range n.Needs {
			n.NeedNames = append(n.NeedNames, g.Nodes[j].Name)
		}
	}
	return g
}

func addNode(g *Graph, p *spec.Pipeline, stage, kind string, a spec.Action, needs []int, name string, m *Matrix, c *spec.Cell) {
	env := maps.Clone(p.Env)
	if env == nil {
		env = map[string]string{}
	}
	maps.Copy(env, a.Env)
	n := &Node{
		Stage:        stage,
		Name:         name,
		Kind:         kind,
		Script:       a.Run,
		Env:          env,
		Needs:        slices.Clone(needs),
		Timeout:      a.Timeout,
		Attempts:     max(a.Retry.Attempts, 1),
		Backoff:      a.Retry.Backoff,
		AllowFailure: a.AllowFailure,

		Deploy:      a.Deploy,
		Environment: a.Environment,
		Workflow:    a.Workflow,
		Build:       a.Build,
		Outputs:     slices.Clone(a.Outputs),
		Inputs:      buildInputs(a),
		// A workflow usually acts on the world (its tasks deploy, notify,
		// migrate): replaying a recorded result would silently skip that,
		// so workflow actions always run.
		NoResultCache: a.NoResultCache || a.Workflow != nil,
		CachePaths:    slices.Clone(a.CachePaths),
		CacheKey:      slices.Clone(a.CacheKey),
		Secrets:       slices.Clone(a.Secrets),
		Sidecars:      slices.Clone(a.Sidecars),
		User:          a.User,
		Memory:        a.Memory,
		CPU:           a.CPU,
		If:            a.If,
		Matrix:        m,
	}
	if a.Run != "" {
		n.Image = p.RunsIn(&a)
	}
	if c != nil {
		// The cell's values are part of its env, and so of its result
		// cache key: each cell is cached on its own.
		maps.Copy(n.Env, c.Env())
		n.Cell = c.Vars()
	}
	n.graph, n.index = g, len(g.Nodes)
	g.Nodes = append(g.Nodes, n)
}

// buildInputs is a's inputs: those it declares, else for a build action
// the files it sends to the builder (its context, and its Dockerfile when
// that lies outside), so that a change elsewhere in the workspace does
// not rebuild the image.
func buildInputs(a spec.Action) []string {
	b := a.Build
	if a.Inputs != nil || b == nil || b.Context == "." {
		return a.Inputs
	}
	in := []string{b.Context + "/**"}
	if f := path.Join(b.Context, b.Dockerfile); !strings.HasPrefix(f, b.Context+"/") {
		in = append(in, f)
	}
	return in
}
