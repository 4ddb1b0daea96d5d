package executions

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"

	"github.com/velocity-ci/velocity/internal/engine"
	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/workflow"
	"github.com/velocity-ci/velocity/internal/workflow/asl"
	"github.com/velocity-ci/velocity/internal/workflow/payload"
)

// ActionsFactory gives what a run's workflow actions need, built from c
// once for a run that selects one: the engine.Workflows, and a func
// that releases it (waiting for executions started in the background).
func ActionsFactory(c Config) func(ctx context.Context) (engine.Workflows, func(), error) {
	return func(ctx context.Context) (engine.Workflows, func(), error) {
		s := New(ctx, c)
		return s.ForActions(), s.Close, nil
	}
}

// ForActions gives the engine.Workflows of a run's workflow actions:
// their executions are in the same journal as every other, and each
// one's progress (states entered and exited, failures) is written into
// the log of the action that started it.
func (s *Service) ForActions() engine.Workflows {
	return &actions{s: s, logs: map[int64]io.Writer{}}
}

// actions runs the workflow actions of a run.
type actions struct {
	s *Service

	mu   sync.Mutex
	logs map[int64]io.Writer // by execution ID
}

var _ engine.Workflows = (*actions)(nil)

// progressEvent reports whether an event gets a line in the action's
// log: states entered and exited, and every failure, as a person
// follows an execution's history.
func progressEvent(t workflow.EventType) bool {
	s := string(t)
	return strings.HasSuffix(s, "StateEntered") || strings.HasSuffix(s, "StateExited") ||
		strings.HasSuffix(s, "Failed") || strings.HasSuffix(s, "TimedOut") || strings.HasSuffix(s, "Aborted")
}

func (w *actions) observe(executionID int64, events []workflow.Event) {
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
		name, detail := EventSummary(ev)
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
func (w *actions) Start(ctx context.Context, s engine.WorkflowStart) (engine.WorkflowResult, error) {
	e, run, err := w.record(ctx, s)
	if err != nil {
		return engine.WorkflowResult{}, err
	}
	fmt.Fprintf(s.Log, "velocity: workflow execution %d (%s) started\n", e.ID, e.ARN)
	res := engine.WorkflowResult{ExecutionID: e.ID, ARN: e.ARN}
	if s.Detach {
		// As a detached start: the background resumer takes the
		// execution over once this process lets go of it.
		run.Detach(context.WithoutCancel(ctx))
		fmt.Fprintf(s.Log, "velocity: it runs in the background (wait: false); follow it with 'velocity workflow history %d'\n", e.ID)
		res.Status = string(store.ExecutionRunning)
		return res, nil
	}
	w.mu.Lock()
	w.logs[e.ID] = s.Log
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		delete(w.logs, e.ID)
		w.mu.Unlock()
	}()
	defer w.stopWith(ctx, e.ID)()
	r, err := w.s.execute(context.WithoutCancel(ctx), e, run.lock, Progress{Events: w.observe})
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

// record checks an action's definition and input and records its
// execution.
func (w *actions) record(ctx context.Context, s engine.WorkflowStart) (store.Execution, *Run, error) {
	src, err := asl.ReadFile(s.File)
	if err == nil {
		_, err = asl.Load(s.File, src)
	}
	if err != nil {
		return store.Execution{}, nil, err
	}
	v, err := payload.Decode([]byte(s.Input))
	if err != nil {
		return store.Execution{}, nil, fmt.Errorf("input: %w", err)
	}
	input, err := marshalJSON(v)
	if err != nil {
		return store.Execution{}, nil, err
	}
	if len(input) > workflow.MaxPayloadBytes {
		return store.Execution{}, nil, fmt.Errorf("input: %d bytes of JSON, more than the %d bytes (256 KiB, workflow.MaxPayloadBytes) Step Functions accepts",
			len(input), workflow.MaxPayloadBytes)
	}
	smName := stateMachineName(s.File)
	if err := checkName(smName); err != nil {
		return store.Execution{}, nil, fmt.Errorf("state machine name %q (from the file name): %w", smName, err)
	}
	e, lock, err := w.s.create(context.WithoutCancel(ctx), newExecution{
		name: executionName(s), stateMachine: smName, definition: src, input: input,
		opts: options{Dir: filepath.Dir(s.File), File: s.File},
	})
	var f *asl.Failure
	if errors.As(err, &f) {
		return e, nil, fmt.Errorf("%s: %s", f.Name, f.Cause)
	}
	if err != nil {
		return e, nil, err
	}
	return e, &Run{Execution: e, s: w.s, lock: lock}, nil
}

// stopWith journals the run's cancellation as a stop of execution id,
// which the execution turns into an abort of itself and what it
// started, as an interrupted foreground execution does; the execution
// itself must outlive ctx to record the abort. The func it returns ends
// the watch.
func (w *actions) stopWith(ctx context.Context, id int64) func() {
	done := make(chan struct{})
	go func() {
		select {
		case <-done:
		case <-ctx.Done():
			cause := "the run was cancelled"
			if c := context.Cause(ctx); c != nil && !errors.Is(c, context.Canceled) && !errors.Is(c, context.DeadlineExceeded) {
				cause = c.Error()
			}
			if _, err := w.s.st.RequestStop(context.WithoutCancel(ctx), id, "Velocity.Cancelled", cause); err != nil && !errors.Is(err, store.ErrNotFound) {
				w.s.log.Warn("could not record the stop of a workflow execution", "execution", id, "err", err)
			}
		}
	}()
	return func() { close(done) }
}
