package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/velocity-ci/velocity/internal/engine"
	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/workflow"
	"github.com/velocity-ci/velocity/internal/workflow/asl"
	"github.com/velocity-ci/velocity/internal/workflow/payload"
)

// actionWorkflows runs the workflow actions of a run with the runtime
// `velocity workflow run` uses: the executions are in the same journal,
// so `velocity workflow list` and `history` show them.
type actionWorkflows struct {
	rt *workflowRuntime

	mu   sync.Mutex
	logs map[string]io.Writer // by execution ID
}

var _ engine.Workflows = (*actionWorkflows)(nil)

// newActionWorkflows takes over rt's observe to stream each execution's
// progress into the log of the action that started it.
func newActionWorkflows(rt *workflowRuntime) *actionWorkflows {
	w := &actionWorkflows{rt: rt, logs: map[string]io.Writer{}}
	rt.observe = w.observe
	return w
}

// progressEvent reports whether an event gets a line in the action's
// log: states entered and exited, and every failure, as a person
// follows an execution in `velocity workflow history`.
func progressEvent(t workflow.EventType) bool {
	s := string(t)
	return strings.HasSuffix(s, "StateEntered") || strings.HasSuffix(s, "StateExited") ||
		strings.HasSuffix(s, "Failed") || strings.HasSuffix(s, "TimedOut") || strings.HasSuffix(s, "Aborted")
}

func (w *actionWorkflows) observe(executionID string, events []workflow.Event) {
	w.mu.Lock()
	defer w.mu.Unlock()
	log := w.logs[executionID]
	if log == nil {
		return
	}
	for _, ev := range events {
		if !progressEvent(ev.Type) {
			continue
		}
		name, detail := eventSummary(ev)
		line := strings.Join(strings.Fields(fmt.Sprintf("workflow: %d %s %s", ev.ID, ev.Type, name)), " ")
		if detail != "" {
			line += " " + detail
		}
		fmt.Fprintln(log, line)
	}
}

// executionName names an action's execution after the run, stage,
// action and attempt, within the 80 characters Step Functions allows.
func executionName(s engine.WorkflowStart) string {
	name := fmt.Sprintf("run%d-%s-%s-%d", s.RunID, s.Stage, s.Action, s.Attempt)
	if len(name) > 80 {
		// Still unique, still telling whose it is at a glance.
		name = name[:55] + "-" + newToken()
	}
	return name
}

// Start implements engine.Workflows.
func (w *actionWorkflows) Start(ctx context.Context, s engine.WorkflowStart) (engine.WorkflowResult, error) {
	rt := w.rt
	src, err := asl.ReadFile(s.File)
	if err == nil {
		_, err = asl.Load(s.File, src)
	}
	if err != nil {
		return engine.WorkflowResult{}, err
	}
	v, err := payload.Decode([]byte(s.Input))
	if err != nil {
		return engine.WorkflowResult{}, fmt.Errorf("input: %w", err)
	}
	input, err := marshalJSON(v)
	if err != nil {
		return engine.WorkflowResult{}, err
	}
	if len(input) > workflow.MaxPayloadBytes {
		return engine.WorkflowResult{}, fmt.Errorf("input: %d bytes of JSON, more than the %d bytes (256 KiB, workflow.MaxPayloadBytes) Step Functions accepts",
			len(input), workflow.MaxPayloadBytes)
	}
	smName := stateMachineName(s.File)
	if err := checkName(smName); err != nil {
		return engine.WorkflowResult{}, fmt.Errorf("state machine name %q (from the file name): %w", smName, err)
	}
	e, lock, err := rt.create(context.WithoutCancel(ctx), newExecution{
		name: executionName(s), stateMachine: smName, definition: src, input: input,
		opts: workflowOptions{Dir: filepath.Dir(s.File), File: s.File},
	})
	var f *asl.Failure
	if errors.As(err, &f) {
		return engine.WorkflowResult{}, fmt.Errorf("%s: %s", f.Name, f.Cause)
	}
	if err != nil {
		return engine.WorkflowResult{}, err
	}
	fmt.Fprintf(s.Log, "velocity: workflow execution %d (%s) started\n", e.ID, e.ARN)
	res := engine.WorkflowResult{ExecutionID: e.ID, ARN: e.ARN}
	if s.Detach {
		// As `velocity workflow start --detach`: the background resumer
		// takes the execution over once this process lets go of it.
		lock.Release()
		rt.resumeInBackground(context.WithoutCancel(ctx))
		fmt.Fprintf(s.Log, "velocity: it runs in the background (wait: false); follow it with 'velocity workflow history %d'\n", e.ID)
		res.Status = string(store.ExecutionRunning)
		return res, nil
	}

	key := strconv.FormatInt(e.ID, 10)
	w.mu.Lock()
	w.logs[key] = s.Log
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		delete(w.logs, key)
		w.mu.Unlock()
	}()
	// The run's cancellation is journaled as a stop, which the execution
	// turns into an abort of itself and what it started, like Ctrl-C of
	// `velocity workflow run`; execute itself must outlive ctx to record
	// the abort.
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-done:
		case <-ctx.Done():
			cause := "the run was cancelled"
			if c := context.Cause(ctx); c != nil && !errors.Is(c, context.Canceled) && !errors.Is(c, context.DeadlineExceeded) {
				cause = c.Error()
			}
			if _, err := rt.h.store.RequestStop(context.WithoutCancel(ctx), e.ID, "Velocity.Cancelled", cause); err != nil && !errors.Is(err, store.ErrNotFound) {
				rt.log.Warn("could not record the stop of a workflow execution", "execution", e.ID, "err", err)
			}
		}
	}()
	r, err := rt.execute(context.WithoutCancel(ctx), e, lock)
	if err != nil {
		return res, err
	}
	res.Status, res.Error, res.Cause = r.Status, r.Error, r.Cause
	if r.Status != workflow.StatusSucceeded {
		// The engine words the failure; the history tells the rest.
		fmt.Fprintf(s.Log, "velocity: see 'velocity workflow history %d'\n", e.ID)
		return res, nil
	}
	if res.Output, err = marshalJSON(r.Output); err != nil {
		return res, err
	}
	// Under the lock: a late event of the execution must not cut into it.
	w.mu.Lock()
	fmt.Fprintf(s.Log, "velocity: workflow execution %d SUCCEEDED, output: %s\n", e.ID, res.Output)
	w.mu.Unlock()
	return res, nil
}
