package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/velocity-ci/velocity/internal/plan"
	"github.com/velocity-ci/velocity/internal/store"
)

// nodeState is where a node of a running graph stands.
type nodeState int

const (
	waiting  nodeState = iota // needs not yet met
	ready                     // may start when a slot is free
	running                   // an attempt is executing
	backoff                   // failed, waiting to be retried
	finished                  // final status known
)

// attemptDone is what an attempt goroutine reports to the scheduler.
type attemptDone struct {
	node    int
	attempt int
	status  store.Status
	err     error // journal failure
}

// graph runs one DAG. A single goroutine (this one) owns all scheduling
// state; attempts run in their own goroutines and report back on a
// channel, so a node starts the instant its last need finishes.
func (x *execution) graph(ctx context.Context, g *plan.Graph) (stageResult, error) {
	res := stageResult{status: store.Succeeded}
	if len(g.Nodes) == 0 {
		return res, nil
	}
	n := len(g.Nodes)
	state := make([]nodeState, n)
	attempts := make([]int, n)
	status := make([]store.Status, n)
	missing := make([]int, n)
	dependents := make([][]int, n)
	var queue []int
	for i, node := range g.Nodes {
		missing[i] = len(node.Needs)
		for _, j := range node.Needs {
			dependents[j] = append(dependents[j], i)
		}
	}
	x.passOver(g, state, status, missing, dependents)
	for i := range g.Nodes {
		if missing[i] == 0 && state[i] == waiting {
			state[i] = ready
			queue = append(queue, i)
		}
	}

	done := make(chan attemptDone, n)
	retry := make(chan int, n)
	// timers of nodes waiting to be retried, so that a failure elsewhere or
	// a Ctrl-C ends the wait at once instead of after the backoff.
	timers := make([]*time.Timer, n)
	active, sleeping := 0, 0
	halted := false    // a failure stopped new starts
	cancelled := false // ctx ended
	var journalErr error
	ctxDone := ctx.Done()

	start := func(i int) {
		attempts[i]++
		state[i] = running
		active++
		go func(i, attempt int) {
			st, err := x.attempt(ctx, g.Nodes[i], attempt)
			done <- attemptDone{node: i, attempt: attempt, status: st, err: err}
		}(i, attempts[i])
	}

	giveUp := func(i int, st store.Status, reason string) {
		state[i] = finished
		status[i] = st
		if st == store.Failed {
			res.failed = append(res.failed, g.Nodes[i].ID())
		}
		if err := x.skip(ctx, g.Nodes[i:i+1], st, reason); err != nil && journalErr == nil {
			journalErr = err
		}
	}
	// stopRetries ends every pending backoff whose timer has not fired.
	stopRetries := func(st store.Status, reason string) {
		for i, t := range timers {
			if t != nil && state[i] == backoff && t.Stop() {
				sleeping--
				giveUp(i, st, reason)
			}
		}
	}

	for {
		for !halted && !cancelled && active < x.limit && len(queue) > 0 {
			i := queue[0]
			queue = queue[1:]
			start(i)
		}
		if active == 0 && sleeping == 0 && (halted || cancelled || len(queue) == 0) {
			break
		}
		select {
		case <-ctxDone:
			cancelled = true
			ctxDone = nil
			stopRetries(store.Cancelled, "run cancelled before the retry")
		case i := <-retry:
			sleeping--
			if halted || cancelled {
				giveUp(i, store.Failed, "not retried: the stage stopped")
				continue
			}
			state[i] = ready
			queue = append([]int{i}, queue...)
		case d := <-done:
			active--
			i := d.node
			if d.err != nil {
				if journalErr == nil {
					journalErr = d.err
				}
				halted = true
				state[i] = finished
				status[i] = store.Failed
				continue
			}
			node := g.Nodes[i]
			if d.status == store.Failed && d.attempt < node.Attempts && !halted && !cancelled {
				state[i] = backoff
				sleeping++
				wait := node.Backoff << (d.attempt - 1)
				timers[i] = time.AfterFunc(wait, func() { retry <- i })
				continue
			}
			state[i] = finished
			status[i] = d.status
			ok := d.status.OK() || (d.status == store.Failed && node.AllowFailure)
			if !ok {
				if d.status == store.Failed {
					res.failed = append(res.failed, node.ID())
				}
				halted = true
				stopRetries(store.Failed, "not retried: the stage stopped")
				continue
			}
			for _, j := range dependents[i] {
				missing[j]--
				if missing[j] == 0 && state[j] == waiting {
					state[j] = ready
					queue = append(queue, j)
				}
			}
		}
	}
	if journalErr != nil {
		return stageResult{status: store.Failed}, journalErr
	}

	// Whatever never started is skipped (or cancelled), with the reason a
	// user needs to see which failure kept it from running.
	skipStatus := store.Skipped
	if cancelled {
		skipStatus = store.Cancelled
	}
	for i, node := range g.Nodes {
		if state[i] == finished {
			continue
		}
		reason := "run cancelled"
		if !cancelled {
			reason = x.blocker(g, status, state, i)
		}
		if err := x.skip(ctx, []*plan.Node{node}, skipStatus, reason); err != nil {
			return stageResult{status: store.Failed}, err
		}
	}
	for i, node := range g.Nodes {
		if status[i] == store.Failed && !node.AllowFailure {
			res.status = store.Failed
		}
		if status[i] == store.Cancelled {
			cancelled = true
		}
	}
	if cancelled {
		res.status = store.Cancelled
	}
	return res, nil
}

// blocker explains why node i never ran.
func (x *execution) blocker(g *plan.Graph, status []store.Status, state []nodeState, i int) string {
	for _, j := range g.Nodes[i].Needs {
		if state[j] == finished && !status[j].OK() && !(status[j] == store.Failed && g.Nodes[j].AllowFailure) {
			return fmt.Sprintf("needs %q, which %s", g.Nodes[j].Name, status[j])
		}
		if state[j] != finished {
			return fmt.Sprintf("needs %q, which did not run", g.Nodes[j].Name)
		}
	}
	for j, st := range status {
		if st == store.Failed && !g.Nodes[j].AllowFailure {
			return fmt.Sprintf("not started: %q failed", g.Nodes[j].Name)
		}
	}
	return "not started: the stage stopped"
}

// passOver marks the nodes outside a partial run's selection as done
// without running or recording them. plan.Select only leaves out a need
// that a selected node is merely ordered after (--skip lint), so its
// dependents are released as if it had succeeded.
func (x *execution) passOver(g *plan.Graph, state []nodeState, status []store.Status, missing []int, dependents [][]int) {
	if x.run.Selection == nil {
		return
	}
	for i, n := range g.Nodes {
		if x.run.Selection.Has(n) {
			continue
		}
		state[i], status[i] = finished, store.Succeeded
		for _, j := range dependents[i] {
			missing[j]--
		}
	}
}
