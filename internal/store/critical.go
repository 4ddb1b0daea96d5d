package store

import (
	"cmp"
	"slices"
	"time"
)

// CriticalPath is the chain of actions that set a run's length: the
// longest chain, weighted by each action's run time, along the edges an
// action really waits on — its needs and, for an action without needs,
// the end of what ran before it in stage order (the previous stage, or
// the stage's actions before its on_failure and finally lists). Waiting
// for a free slot (-j) is no such edge: two actions that merely queued
// one behind the other are not a chain, and the wait is shown apart, as
// each step's Queued time.
type CriticalPath []PathStep

// PathStep is one action of a critical path.
type PathStep struct {
	Action Action
	// Ran is the time from the action's first attempt's start to its end
	// (retries and their backoff included).
	Ran time.Duration
	// Queued is how long the action was ready — its needs finished, its
	// stage open and approved — before its first attempt started: the
	// time it waited for a free slot.
	Queued time.Duration
}

// Ran is the sum of the steps' run times.
func (p CriticalPath) Ran() time.Duration {
	var d time.Duration
	for _, s := range p {
		d += s.Ran
	}
	return d
}

// Queued is the sum of the steps' waits for a free slot.
func (p CriticalPath) Queued() time.Duration {
	var d time.Duration
	for _, s := range p {
		d += s.Queued
	}
	return d
}

// phase orders the lists of a run as the engine runs them: stage by
// stage, and within a stage its actions, then on_failure, then finally.
func phase(a Action) int {
	rank := 0
	switch a.Kind {
	case KindOnFailure:
		rank = 1
	case KindFinally:
		rank = 2
	}
	return a.StageIndex*3 + rank
}

// FindCriticalPath returns the critical path of a run from its journaled
// actions (in any order) and approvals; actions that never started are
// not on it. The approvals keep a stage's wait for a human out of its
// actions' queueing time.
func FindCriticalPath(actions []Action, approvals []Approval) CriticalPath {
	var ran []Action
	for _, a := range actions {
		if !a.Started.IsZero() && !a.Finished.IsZero() {
			ran = append(ran, a)
		}
	}
	if len(ran) == 0 {
		return nil
	}
	slices.SortStableFunc(ran, func(a, b Action) int {
		return cmp.Or(cmp.Compare(phase(a), phase(b)), a.Started.Compare(b.Started))
	})
	index := make(map[Key]int, len(ran))
	for i, a := range ran {
		index[a.Key()] = i
	}
	approved := map[string]time.Time{}
	for _, ap := range approvals {
		if ap.Status == Approved {
			approved[ap.Stage] = ap.At
		}
	}

	// Each action's predecessors and the moment it was ready to start.
	// The first list of the run opens when its first action starts: the
	// time before that went to copying the workspace, not to waiting.
	preds := make([][]int, len(ran))
	ready := make([]time.Time, len(ran))
	open := ran[0].Started // the current list opened; ran is sorted
	prevFirst, prevEnd := -1, -1
	for i := 0; i < len(ran); {
		j := i
		for j < len(ran) && phase(ran[j]) == phase(ran[i]) {
			j++
		}
		if prevFirst >= 0 {
			open = time.Time{}
			for k := prevFirst; k < prevEnd; k++ {
				open = later(open, ran[k].Finished)
			}
		}
		for k := i; k < j; k++ {
			a := ran[k]
			ready[k] = later(open, approved[a.Stage])
			for _, name := range a.Needs {
				if n, ok := index[Key{a.Stage, name}]; ok && n != k {
					preds[k] = append(preds[k], n)
					ready[k] = later(ready[k], ran[n].Finished)
				}
			}
			if len(a.Needs) == 0 && prevFirst >= 0 {
				for n := prevFirst; n < prevEnd; n++ {
					preds[k] = append(preds[k], n)
				}
			}
		}
		prevFirst, prevEnd = i, j
		i = j
	}

	// The longest chain ending at each action, by run time; among equal
	// chains the predecessor that finished last, which is what the action
	// really waited on.
	const (
		unvisited = iota
		visiting
		done
	)
	state := make([]int, len(ran))
	longest := make([]time.Duration, len(ran))
	via := make([]int, len(ran))
	var visit func(i int)
	visit = func(i int) {
		state[i] = visiting
		via[i] = -1
		for _, p := range preds[i] {
			switch state[p] {
			case visiting:
				continue // a cycle in a damaged journal: not an edge
			case unvisited:
				visit(p)
			}
			if via[i] < 0 || longer(longest[p], ran[p].Finished, longest[via[i]], ran[via[i]].Finished) {
				via[i] = p
			}
		}
		longest[i] = ran[i].Finished.Sub(ran[i].Started)
		if via[i] >= 0 {
			longest[i] += longest[via[i]]
		}
		state[i] = done
	}
	end := -1
	for i := range ran {
		if state[i] == unvisited {
			visit(i)
		}
		if end < 0 || longer(longest[i], ran[i].Finished, longest[end], ran[end].Finished) {
			end = i
		}
	}

	var path CriticalPath
	for i := end; i >= 0; i = via[i] {
		a := ran[i]
		path = append(path, PathStep{Action: a, Ran: a.Finished.Sub(a.Started), Queued: max(a.Started.Sub(ready[i]), 0)})
	}
	slices.Reverse(path)
	return path
}

// longer reports whether a chain of length d ending at t beats one of
// length bestD ending at bestT.
func longer(d time.Duration, t time.Time, bestD time.Duration, bestT time.Time) bool {
	return d > bestD || d == bestD && t.After(bestT)
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
