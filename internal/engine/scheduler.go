package engine

import (
	"context"
	"errors"
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
	end     *attemptEnd // not journaled yet; nil with err
	err     error       // journal failure
}

// graph runs one DAG. A single goroutine (this one) owns all scheduling
// state; attempts run in their own goroutines and report back on a
// channel, so a node starts the instant its last need finishes.
//
// A node is decided the moment its needs are all finished: it is skipped
// when a need did not succeed (unless its if: uses a status function),
// when a failure stopped the stage, or when its if: is false; otherwise it
// waits for a free slot. Deciding at once, rather than when the graph
// ends, lets a later `if: failure()` action see its needs finished.
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
	// stopped marks cells cancelled by a sibling's failure (fail_fast):
	// the run was not cancelled, the matrix failed.
	stopped := make([]bool, n)
	for i, node := range g.Nodes {
		missing[i] = len(node.Needs)
		for _, j := range node.Needs {
			dependents[j] = append(dependents[j], i)
		}
	}
	x.passOver(g, state, status, missing, dependents)

	done := make(chan attemptDone, n)
	retry := make(chan int, n)
	// timers of nodes waiting to be retried, so that a failure elsewhere or
	// a Ctrl-C ends the wait at once instead of after the backoff.
	timers := make([]*time.Timer, n)
	active, sleeping := 0, 0
	// A failure stops new starts in the stage: every start when haltAll,
	// else (cells of fail_fast: false matrices failed) every start but
	// those of that one matrix.
	haltAll := false
	haltedBy := map[*plan.Matrix]bool{}
	cancelled := false // ctx ended
	var journalErr error
	ctxDone := ctx.Done()
	var queue []int
	// Cells of one matrix share a context, so that fail_fast can stop
	// them without stopping the rest of the stage.
	cellCtx := map[*plan.Matrix]context.Context{}
	cellCancel := map[*plan.Matrix]context.CancelCauseFunc{}
	defer func() {
		for _, cancel := range cellCancel {
			cancel(nil)
		}
	}()
	busy := map[*plan.Matrix]int{} // running cells per matrix

	halted := func() bool { return haltAll || len(haltedBy) > 0 }
	// mayStart reports whether node i may still start in a halted stage.
	mayStart := func(i int) bool {
		node := g.Nodes[i]
		if !halted() || tolerant(node) {
			return true
		}
		return !haltAll && len(haltedBy) == 1 && haltedBy[node.Matrix]
	}

	// ended holds the attempts that ended and whose end is not journaled
	// yet: the next attempt started journals them with its own start
	// (recordAttempts), else flush does before anything else is written
	// or waited for.
	var ended []attemptEnd
	flush := func() {
		if len(ended) == 0 {
			return
		}
		if err := x.recordAttempts(context.WithoutCancel(ctx), ended, nil); err != nil && journalErr == nil {
			journalErr = fmt.Errorf("%w: %w", errJournal, err)
			haltAll = true
		}
		ended = nil
	}
	// skip journals nodes that will not run, after the ends held back.
	skip := func(nodes []*plan.Node, st store.Status, reason string) error {
		flush()
		return x.skip(ctx, nodes, st, reason)
	}

	start := func(i int) {
		node := g.Nodes[i]
		attempts[i]++
		state[i] = running
		active++
		actx := ctx
		if m := node.Matrix; m != nil {
			busy[m]++
			if cellCtx[m] == nil {
				cellCtx[m], cellCancel[m] = context.WithCancelCause(ctx)
			}
			actx = cellCtx[m]
		}
		attempt := attempts[i]
		// The ends held back are journaled with this start.
		carried := ended
		ended = nil
		x.workers.do(func() {
			st, end, err := x.attempt(actx, g.Nodes[i], attempt, carried)
			done <- attemptDone{node: i, attempt: attempt, status: st, end: end, err: err}
		})
	}

	// finish records node i's final status; the caller has journaled it.
	var finish func(i int, st store.Status)
	// decide runs when node i's needs have all finished.
	decide := func(i int) {
		node := g.Nodes[i]
		if cancelled {
			return // recorded as cancelled when the graph ends
		}
		if why, ok := stoppedCell(node, cellCtx); ok {
			stopped[i] = true
			if err := skip(g.Nodes[i:i+1], store.Cancelled, why); err != nil && journalErr == nil {
				journalErr = err
			}
			finish(i, store.Cancelled)
			return
		}
		reason := ""
		switch {
		case !tolerant(node) && !needsOK(g, status, i):
			reason = x.blocker(g, status, state, i)
		case !mayStart(i):
			reason = x.blocker(g, status, state, i)
		case node.If != nil:
			if ok := x.condition(node); !ok {
				reason = fmt.Sprintf("if: %s was false", node.If.Text)
			}
		}
		if reason == "" {
			state[i] = ready
			queue = append(queue, i)
			return
		}
		if err := skip(g.Nodes[i:i+1], store.Skipped, reason); err != nil && journalErr == nil {
			journalErr = err
		}
		finish(i, store.Skipped)
	}
	finish = func(i int, st store.Status) {
		state[i] = finished
		status[i] = st
		x.mu.Lock()
		x.final[g.Nodes[i]] = st
		x.mu.Unlock()
		for _, j := range dependents[i] {
			missing[j]--
			if missing[j] == 0 && state[j] == waiting {
				decide(j)
			}
		}
	}

	giveUp := func(i int, st store.Status, reason string) {
		if st == store.Failed {
			res.failed = append(res.failed, g.Nodes[i].ID())
		}
		if err := skip(g.Nodes[i:i+1], st, reason); err != nil && journalErr == nil {
			journalErr = err
		}
		finish(i, st)
	}
	// stopRetries ends every pending backoff whose timer has not fired
	// and whose node may no longer start.
	stopRetries := func(st store.Status, reason string) {
		for i, t := range timers {
			if t != nil && state[i] == backoff && (cancelled || !mayStart(i)) && t.Stop() {
				sleeping--
				giveUp(i, st, reason)
			}
		}
	}
	// failed stops the stage after node i failed; with fail_fast, the
	// running cells of its matrix are stopped too.
	failed := func(i int) {
		node := g.Nodes[i]
		m := node.Matrix
		if m == nil || m.FailFast {
			haltAll = true
		} else {
			haltedBy[m] = true
		}
		if m != nil && m.FailFast && cellCancel[m] != nil {
			cellCancel[m](fmt.Errorf("%s failed (%w)", node.Name, errFailFast))
		}
		stopRetries(store.Failed, "not retried: the stage stopped")
	}

	for i := range g.Nodes {
		if missing[i] == 0 && state[i] == waiting {
			decide(i)
		}
	}
	for {
		// Start what may start; skip, at once, what never will, so that
		// its dependents are decided.
		var later []int
		for len(queue) > 0 {
			i := queue[0]
			queue = queue[1:]
			node := g.Nodes[i]
			why, stop := stoppedCell(node, cellCtx)
			switch {
			case cancelled:
				later = append(later, i)
			case stop:
				stopped[i] = true
				giveUp(i, store.Cancelled, why)
			case !mayStart(i):
				giveUp(i, store.Skipped, x.blocker(g, status, state, i))
			case active >= x.limit || node.Matrix != nil && node.Matrix.MaxParallel > 0 && busy[node.Matrix] >= node.Matrix.MaxParallel:
				later = append(later, i)
			default:
				start(i)
			}
		}
		queue = later
		flush()
		if active == 0 && sleeping == 0 && (cancelled || len(queue) == 0) {
			break
		}
		select {
		case <-ctxDone:
			cancelled = true
			ctxDone = nil
			stopRetries(store.Cancelled, "run cancelled before the retry")
		case i := <-retry:
			sleeping--
			if cancelled || !mayStart(i) {
				giveUp(i, store.Failed, "not retried: the stage stopped")
				continue
			}
			state[i] = ready
			queue = append([]int{i}, queue...)
		case d := <-done:
			active--
			if d.end != nil {
				ended = append(ended, *d.end)
			}
			i := d.node
			node := g.Nodes[i]
			if node.Matrix != nil {
				busy[node.Matrix]--
			}
			if d.err != nil {
				if journalErr == nil {
					journalErr = d.err
				}
				haltAll = true
				state[i] = finished
				status[i] = store.Failed
				continue
			}
			if d.status == store.Failed && d.attempt < node.Attempts && !cancelled && mayStart(i) {
				state[i] = backoff
				sleeping++
				wait := node.Backoff << (d.attempt - 1)
				timers[i] = time.AfterFunc(wait, func() { retry <- i })
				continue
			}
			if _, ff := stoppedCell(node, cellCtx); ff && d.status == store.Cancelled && ctx.Err() == nil {
				// Stopped by fail_fast, not by a Ctrl-C that the select
				// has not seen yet: the stage failed, the run goes on.
				stopped[i] = true
			}
			ok := d.status.OK() || (d.status == store.Failed && node.AllowFailure)
			if !ok && d.status == store.Failed {
				res.failed = append(res.failed, node.ID())
			}
			if !ok && !stopped[i] {
				failed(i)
			}
			finish(i, d.status)
		}
	}
	if journalErr != nil {
		return stageResult{status: store.Failed}, journalErr
	}

	// Whatever never started is cancelled (or skipped, after a journal
	// failure), with the reason a user needs.
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
		status[i] = skipStatus
	}
	for i, node := range g.Nodes {
		if status[i] == store.Failed && !node.AllowFailure {
			res.status = store.Failed
		}
		if status[i] == store.Cancelled && !stopped[i] {
			cancelled = true
		}
	}
	if cancelled {
		res.status = store.Cancelled
	}
	return res, nil
}

// errFailFast is the cause of a cell stopped because a sibling failed.
var errFailFast = errors.New("fail_fast")

// stoppedCell reports whether node is a cell whose matrix fail_fast
// stopped, and why.
func stoppedCell(node *plan.Node, cellCtx map[*plan.Matrix]context.Context) (string, bool) {
	if node.Matrix == nil || cellCtx[node.Matrix] == nil {
		return "", false
	}
	if cause := context.Cause(cellCtx[node.Matrix]); errors.Is(cause, errFailFast) {
		return cause.Error(), true
	}
	return "", false
}

// tolerant reports whether node runs whatever its needs' outcome: its
// if: calls a status function such as failure() or always().
func tolerant(n *plan.Node) bool {
	return n.If != nil && n.If.Expr.UsesStatus()
}

// needsOK reports whether every need of node i succeeded (or failed with
// allow_failure).
func needsOK(g *plan.Graph, status []store.Status, i int) bool {
	for _, j := range g.Nodes[i].Needs {
		if !status[j].OK() && !(status[j] == store.Failed && g.Nodes[j].AllowFailure) {
			return false
		}
	}
	return true
}

// blocker explains why node i never ran.
func (x *execution) blocker(g *plan.Graph, status []store.Status, state []nodeState, i int) string {
	for _, j := range g.Nodes[i].Needs {
		if state[j] == finished && !status[j].OK() && !(status[j] == store.Failed && g.Nodes[j].AllowFailure) {
			if status[j] == store.Failed {
				return fmt.Sprintf("needs %q, which failed", g.Nodes[j].Name)
			}
			return fmt.Sprintf("needs %q, which was %s", g.Nodes[j].Name, status[j])
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
