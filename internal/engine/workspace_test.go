package engine_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/velocity-ci/velocity/internal/executor"
	"github.com/velocity-ci/velocity/internal/plan"
	"github.com/velocity-ci/velocity/internal/store"
)

// countingExecutor wraps the real executor and counts the lifecycle
// calls a container executor relies on.
type countingExecutor struct {
	executor.Executor
	failPrepare error

	mu                  sync.Mutex
	prepared, cleanedUp int
	runs                []executor.Run
	stepsAfterCleanup   int
}

func (c *countingExecutor) Prepare(ctx context.Context, r executor.Run) (executor.Workspace, error) {
	c.mu.Lock()
	c.prepared++
	c.runs = append(c.runs, r)
	c.mu.Unlock()
	if c.failPrepare != nil {
		return nil, c.failPrepare
	}
	ws, err := c.Executor.Prepare(ctx, r)
	if err != nil {
		return nil, err
	}
	return &countingWorkspace{Workspace: ws, c: c}, nil
}

type countingWorkspace struct {
	executor.Workspace
	c *countingExecutor
}

func (w *countingWorkspace) Run(ctx context.Context, s executor.Step) (executor.Result, error) {
	w.c.mu.Lock()
	if w.c.cleanedUp > 0 {
		w.c.stepsAfterCleanup++
	}
	w.c.mu.Unlock()
	return w.Workspace.Run(ctx, s)
}

func (w *countingWorkspace) Cleanup(ctx context.Context) error {
	w.c.mu.Lock()
	w.c.cleanedUp++
	w.c.mu.Unlock()
	return w.Workspace.Cleanup(ctx)
}

// A run prepares its executor workspace once, for all its actions, and
// cleans it up once after the last one, also when an action failed.
func TestWorkspacePreparedOnceAndCleanedUp(t *testing.T) {
	h := newHarness(t, 4)
	c := &countingExecutor{Executor: h.eng.Executor}
	h.eng.Executor = c
	p := &plan.Plan{Stages: []*plan.Stage{
		stage("one", node("a", "true"), node("b", "true"), node("c", "true", "a")),
		stage("two", node("d", "exit 1")),
	}}
	out, _ := h.run(context.Background(), p)
	if out.Status != store.Failed {
		t.Fatalf("outcome %+v", out)
	}
	if c.prepared != 1 || c.cleanedUp != 1 || c.stepsAfterCleanup != 0 {
		t.Fatalf("prepared %d, cleaned up %d, steps after clean-up %d; want 1, 1, 0", c.prepared, c.cleanedUp, c.stepsAfterCleanup)
	}
	if r := c.runs[0]; r.Dir != h.dir || r.ID == "" {
		t.Errorf("prepared %+v, want the run's workspace %s and an ID", r, h.dir)
	}
}

// A workspace that cannot be prepared fails the run's script actions
// with the executor's reason.
func TestWorkspacePrepareFailureFailsActions(t *testing.T) {
	h := newHarness(t, 2)
	c := &countingExecutor{Executor: h.eng.Executor, failPrepare: errors.New("no docker daemon")}
	h.eng.Executor = c
	p := &plan.Plan{Stages: []*plan.Stage{stage("one", node("a", "true"), node("b", "true"))}}
	out, actions := h.run(context.Background(), p)
	if out.Status != store.Failed {
		t.Fatalf("outcome %+v", out)
	}
	for _, k := range []string{"one/a", "one/b"} {
		if a := actions[k]; a.Status != store.Failed || !strings.Contains(a.Reason, "no docker daemon") {
			t.Errorf("%s: %s %q, want failed with the executor's reason", k, a.Status, a.Reason)
		}
	}
	if c.prepared != 1 || c.cleanedUp != 0 {
		t.Errorf("prepared %d, cleaned up %d; want one try and nothing to clean up", c.prepared, c.cleanedUp)
	}
}
