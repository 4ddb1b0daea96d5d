package plan

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/velocity-ci/velocity/internal/typo"
)

// Selection errors, wrapped by every error Select returns, so that callers
// can tell a user's mistake from anything else.
var (
	// ErrNoMatch: a name or pattern names no action of the plan.
	ErrNoMatch = errors.New("no such action or stage")
	// ErrAmbiguous: a bare name fits more than one stage or action.
	ErrAmbiguous = errors.New("ambiguous name")
	// ErrSkipNeeded: --skip removes an action whose outputs a selected
	// action reads.
	ErrSkipNeeded = errors.New("skipped action is needed")
	// ErrNothingSelected: --skip removed everything.
	ErrNothingSelected = errors.New("nothing left to run")
)

// Selection is the part of a plan that a partial run executes (velocity
// run NAME…, --only, --skip). A nil *Selection is the whole plan.
//
// The rules, which the README documents:
//
//   - A pattern is "stage/action", where either side may be a glob
//     (path.Match: "build/*", "*/deploy"); or a bare NAME: the stage NAME
//     (all its actions) or else the action NAME of whichever stage has
//     one (two stages having one, or a stage and an action sharing the
//     name, is an error that lists the exact spellings); or a bare glob,
//     which matches action names in every stage ("test-*" is "*/test-*").
//     Every pattern must match something: a typo is an error, with a
//     suggestion, never an empty run.
//   - A selected action runs with everything it may read: its needs,
//     transitively (they are part of its result-cache key), and every
//     action of an earlier stage that declares outputs, with that
//     action's own needs. These are "pulled in"; like any action they
//     come from the result cache when their key hits. Earlier actions
//     without outputs (lint, tests, deploys) are not pulled in: they
//     leave nothing behind that a later stage reads.
//   - A stage that runs any action also runs its on_failure and finally
//     actions (its clean-up); a stage that runs nothing is left out,
//     approval gate included. A pulled-in stage with approval: manual
//     still waits for its approval.
//   - --skip removes what it matches from the run, after the above. An
//     action that is only ordered after a skipped one (needs, but no
//     outputs) still runs, as with Gradle's -x; skipping an action
//     whose outputs a remaining action reads is an error naming both.
type Selection struct {
	// Only and Skip are the patterns as the user gave them.
	Only []string
	Skip []string
	// Pulled lists, in definition order, the nodes that run only because
	// a selected node reads what they produce.
	Pulled []Pull
	in     map[*Node]bool
}

// Pull is a node pulled into a partial run and one selected node that
// needs it.
type Pull struct {
	Node, By *Node
}

// Has reports whether n runs; every node of the plan runs when s is nil.
func (s *Selection) Has(n *Node) bool {
	return s == nil || s.in[n]
}

// HasStage reports whether any node of st runs.
func (s *Selection) HasStage(st *Stage) bool {
	if s == nil {
		return true
	}
	for _, g := range []*Graph{st.Actions, st.OnFailure, st.Finally} {
		for _, n := range g.Nodes {
			if s.in[n] {
				return true
			}
		}
	}
	return false
}

// Len is the number of nodes that run.
func (s *Selection) Len() int { return len(s.in) }

// String describes the selection as a user would write it:
// "test build/* --skip lint".
func (s *Selection) String() string {
	if s == nil {
		return ""
	}
	return Describe(s.Only, s.Skip)
}

// Describe writes the patterns of a partial run back as arguments of
// velocity run, for messages and the run's summary.
func Describe(only, skip []string) string {
	parts := slices.Clone(only)
	for _, p := range skip {
		parts = append(parts, "--skip", p)
	}
	return strings.Join(parts, " ")
}

// Select works out which nodes of p a partial run executes: the nodes
// only's patterns match (every node when only is empty) with what they
// need pulled in, minus the nodes skip's patterns match. With neither
// patterns it returns nil, the whole plan.
func Select(p *Plan, only, skip []string) (*Selection, error) {
	if len(only) == 0 && len(skip) == 0 {
		return nil, nil
	}
	skipped := map[*Node]bool{}
	for _, pat := range skip {
		ns, err := p.match(pat)
		if err != nil {
			return nil, fmt.Errorf("--skip %s: %w", pat, err)
		}
		for _, n := range ns {
			skipped[n] = true
		}
	}
	// roots are the nodes chosen by name, in definition order; all of
	// them when only --skip was given.
	chosen := map[*Node]bool{}
	for _, pat := range only {
		ns, err := p.match(pat)
		if err != nil {
			return nil, err
		}
		for _, n := range ns {
			chosen[n] = true
		}
	}
	var roots []*Node
	p.Each(func(_ *Stage, n *Node) {
		if (len(only) == 0 || chosen[n]) && !skipped[n] {
			roots = append(roots, n)
		}
	})
	if len(roots) == 0 {
		return nil, wrong(ErrNothingSelected, "%s: every action it names is also skipped", Describe(only, skip))
	}

	s := &Selection{Only: slices.Clone(only), Skip: slices.Clone(skip), in: map[*Node]bool{}}
	pulledBy := map[*Node]*Node{}
	for _, n := range roots {
		s.in[n] = true
	}
	// need includes b, which node by (a root) reads; outputs tells
	// whether the reading is of files, which a skip cannot take away.
	var stack []*Node
	need := func(b, by *Node, outputs bool) error {
		if s.in[b] || pulledBy[b] != nil {
			return nil
		}
		if skipped[b] {
			if !outputs {
				// Only ordered after b: b's own needs may still hold
				// files by reads, so the walk goes on through b.
				pulledBy[b] = by
				stack = append(stack, b)
				return nil
			}
			return wrong(ErrSkipNeeded, "cannot skip %s: %s reads its outputs (%s); skip %s too, or leave %s in",
				b.ID(), by.ID(), strings.Join(b.Outputs, ", "), by.ID(), b.ID())
		}
		pulledBy[b] = by
		stack = append(stack, b)
		return nil
	}
	// Each graph's earlier nodes are a prefix of one list, longer for
	// later graphs, and roots come in definition order: scanning only the
	// part of each prefix not scanned yet keeps Select linear in the plan
	// (a 20,000-stage pipeline must not take quadratic time).
	scanned := 0
	for _, r := range roots {
		if r.graph == nil {
			continue // a node not made by Compile has no links to follow
		}
		earlier := r.graph.earlier
		for _, b := range earlier[min(scanned, len(earlier)):] {
			if len(b.Outputs) > 0 {
				if err := need(b, r, true); err != nil {
					return nil, err
				}
			}
		}
		scanned = max(scanned, len(earlier))
		stack = append(stack, r)
		for len(stack) > 0 {
			n := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for _, j := range n.Needs {
				b := n.graph.Nodes[j]
				if err := need(b, r, len(b.Outputs) > 0); err != nil {
					return nil, err
				}
			}
		}
	}
	p.Each(func(_ *Stage, n *Node) {
		if by := pulledBy[n]; by != nil && !skipped[n] {
			s.in[n] = true
			s.Pulled = append(s.Pulled, Pull{Node: n, By: by})
		}
	})
	// A stage's clean-up goes with whatever of the stage runs.
	for _, st := range p.Stages {
		if !slices.ContainsFunc(st.Actions.Nodes, s.Has) {
			continue
		}
		for _, g := range []*Graph{st.OnFailure, st.Finally} {
			for _, n := range g.Nodes {
				if !skipped[n] {
					s.in[n] = true
				}
			}
		}
	}
	return s, nil
}

// match returns the nodes a pattern names, in definition order.
func (p *Plan) match(pat string) ([]*Node, error) {
	if pat == "" {
		return nil, wrong(ErrNoMatch, "an empty name selects nothing")
	}
	stagePat, actionPat, qualified := strings.Cut(pat, "/")
	if !qualified && isGlob(pat) {
		stagePat, actionPat, qualified = "*", pat, true
	}
	for _, q := range []string{stagePat, actionPat} {
		if _, err := path.Match(q, ""); err != nil {
			return nil, fmt.Errorf("%q: %w", pat, err)
		}
	}
	var out []*Node
	if qualified {
		if strings.Contains(actionPat, "/") {
			return nil, wrong(ErrNoMatch, "%q: a name is STAGE or ACTION or STAGE/ACTION", pat)
		}
		p.Each(func(s *Stage, n *Node) {
			okStage, _ := path.Match(stagePat, s.Name)
			okAction, _ := path.Match(actionPat, n.Name)
			if m := n.Matrix; m != nil && !okAction {
				okAction, _ = path.Match(actionPat, m.Action)
			}
			if okStage && okAction {
				out = append(out, n)
			}
		})
		if len(out) == 0 {
			var ids []string
			p.Each(func(_ *Stage, n *Node) { ids = append(ids, n.ID()) })
			hint := ""
			if !isGlob(pat) {
				hint = typo.DidYouMean(pat, ids)
			}
			return nil, wrong(ErrNoMatch, "%q matches no action%s; the actions are %s", pat, hint, strings.Join(ids, ", "))
		}
		return out, nil
	}

	var stage *Stage
	for _, s := range p.Stages {
		if s.Name == pat {
			stage = s
		}
	}
	var actions []*Node
	p.Each(func(_ *Stage, n *Node) {
		// A matrix action's name as written selects all of its cells.
		if n.Name == pat || n.Matrix != nil && n.Matrix.Action == pat {
			actions = append(actions, n)
		}
	})
	if len(actions) > 1 && oneMatrix(actions) {
		if stage != nil {
			return nil, wrong(ErrAmbiguous, "%q is both stage %s and matrix action %s/%s: write %s/* for the stage or %s/%s for the action",
				pat, pat, actions[0].Stage, pat, pat, actions[0].Stage, pat)
		}
		return actions, nil
	}
	switch {
	case stage != nil && len(actions) > 0:
		return nil, wrong(ErrAmbiguous, "%q is both stage %s and action %s: write %s/* for the stage or %s for the action",
			pat, pat, actions[0].ID(), pat, actions[0].ID())
	case stage != nil:
		p.Each(func(s *Stage, n *Node) {
			if s == stage {
				out = append(out, n)
			}
		})
		if len(out) == 0 {
			return nil, wrong(ErrNoMatch, "stage %q has no actions", pat)
		}
		return out, nil
	case len(actions) > 1:
		ids := make([]string, len(actions))
		for i, n := range actions {
			ids[i] = n.ID()
		}
		return nil, wrong(ErrAmbiguous, "%q is an action of several stages: write %s", pat, strings.Join(ids, " or "))
	case len(actions) == 1:
		return actions, nil
	}
	var names []string
	seen := map[string]bool{}
	add := func(name string) {
		if !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	for _, s := range p.Stages {
		add(s.Name)
	}
	p.Each(func(_ *Stage, n *Node) { add(n.Name) })
	return nil, wrong(ErrNoMatch, "%q is neither a stage nor an action%s; the stages are %s",
		pat, typo.DidYouMean(pat, names), stageNames(p))
}

func stageNames(p *Plan) string {
	names := make([]string, len(p.Stages))
	for i, s := range p.Stages {
		names[i] = s.Name
	}
	return strings.Join(names, ", ")
}

func isGlob(s string) bool { return strings.ContainsAny(s, `*?[\`) }

// selectError is a user's mistake in a selection: its text is the whole
// message, and it wraps one of the Err values for errors.Is.
type selectError struct {
	kind error
	msg  string
}

func (e *selectError) Error() string { return e.msg }
func (e *selectError) Unwrap() error { return e.kind }

func wrong(kind error, format string, args ...any) error {
	return &selectError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// oneMatrix reports whether nodes are all cells of one matrix action.
func oneMatrix(nodes []*Node) bool {
	for _, n := range nodes {
		if n.Matrix == nil || n.Matrix != nodes[0].Matrix {
			return false
		}
	}
	return true
}
