package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/velocity-ci/velocity/internal/plan"
	"github.com/velocity-ci/velocity/internal/store"
)

// Workflows starts the executions of workflow actions. The engine knows
// no state machine: whoever provides this records the execution in the
// workflow journal and runs it.
type Workflows interface {
	// Start records an execution of w.File with w.Input and, unless
	// w.Detach, runs it to its end, writing its progress to w.Log. A
	// cancelled ctx stops (aborts) the execution. The error is for what
	// kept the execution from being recorded or run, not for a failed
	// execution: that is in the result.
	Start(ctx context.Context, w WorkflowStart) (WorkflowResult, error)
}

// WorkflowStart is one workflow action's request.
type WorkflowStart struct {
	RunID         int64
	Stage, Action string
	Attempt       int
	// File is the definition's absolute path in the run's workspace.
	File string
	// Input is the execution's input, JSON text.
	Input  string
	Detach bool
	Log    io.Writer
}

// WorkflowResult is how an execution ended, or that it started when
// detached.
type WorkflowResult struct {
	ExecutionID int64
	ARN         string
	// Status is SUCCEEDED, FAILED, TIMED_OUT or ABORTED; RUNNING when
	// detached.
	Status string
	// Output is the JSON output of a succeeded execution.
	Output       []byte
	Error, Cause string
}

// workflow carries out a workflow action through x.Workflows.
func (x *execution) workflow(ctx context.Context, n *plan.Node, number int, out io.Writer) (store.Status, int, string, error) {
	w := n.Workflow
	if x.Workflows == nil {
		st, code, msg := fail(out, fmt.Sprintf("cannot start workflow %s here: no workflow runtime", w.File))
		return st, code, msg, nil
	}
	wctx := ctx
	if n.Timeout > 0 {
		// The cause becomes the stop's cause in the workflow's history.
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeoutCause(ctx, n.Timeout, fmt.Errorf("the action's timeout of %v passed", n.Timeout))
		defer cancel()
	}
	res, err := x.Workflows.Start(wctx, WorkflowStart{
		RunID: x.run.ID, Stage: n.Stage, Action: n.Name, Attempt: number,
		File:  filepath.Join(x.run.Dir, filepath.FromSlash(w.File)),
		Input: w.Input, Detach: w.Detach, Log: out,
	})
	timedOut := ctx.Err() == nil && wctx.Err() != nil
	if timedOut && (err != nil || res.Status == "ABORTED") {
		st, code, msg := fail(out, fmt.Sprintf("timed out after %v (workflow execution %d stopped)", n.Timeout, res.ExecutionID))
		return st, code, msg, nil
	}
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintf(out, "velocity: workflow %s: %v\n", w.File, err)
			return store.Cancelled, -1, "cancelled", nil
		}
		st, code, msg := fail(out, fmt.Sprintf("workflow %s: %v", w.File, err))
		return st, code, msg, nil
	}
	switch res.Status {
	case "SUCCEEDED", "RUNNING":
	case "ABORTED":
		if ctx.Err() != nil {
			return store.Cancelled, -1, "cancelled", nil
		}
		fallthrough
	default:
		why := strings.Join(slices.DeleteFunc([]string{res.Error, res.Cause}, func(s string) bool { return s == "" }), ": ")
		if why == "" {
			why = "no error given"
		}
		st, code, msg := fail(out, fmt.Sprintf("workflow execution %d %s: %s", res.ExecutionID, res.Status, why))
		return st, code, msg, nil
	}
	// What depends on this action is keyed on what the workflow
	// produced; a detached one produced nothing known yet, so each of
	// its executions counts as new.
	digest := res.ARN
	if res.Status == "SUCCEEDED" {
		sum := sha256.Sum256(res.Output)
		digest = "workflow output " + hex.EncodeToString(sum[:])
	}
	x.mu.Lock()
	x.outputs[n] = digest
	x.mu.Unlock()
	return store.Succeeded, 0, "", nil
}
