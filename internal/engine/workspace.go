package engine

import (
	"context"
	"fmt"
	"sync"

	"github.com/velocity-ci/velocity/internal/executor"
)

// ranWorkspace is a run's executor workspace, prepared when the first
// script runs: a run of deploys and approvals only never makes a
// container executor start a network or a pod.
type ranWorkspace struct {
	once sync.Once
	ws   executor.Workspace
	err  error
}

// workspace returns the run's prepared workspace, preparing it on the
// first call. A failure is kept: every script action of the run then
// fails with it.
func (x *execution) workspace(ctx context.Context) (executor.Workspace, error) {
	x.ws.once.Do(func() {
		if x.Executor == nil {
			x.ws.err = fmt.Errorf("no executor to run scripts here")
			return
		}
		// Not bound to the attempt that happens to come first: the
		// workspace serves every later one, finally actions included.
		ws, err := x.Executor.Prepare(context.WithoutCancel(ctx), executor.Run{
			ID:      fmt.Sprintf("run-%d", x.run.ID),
			Dir:     x.run.Dir,
			Scratch: x.run.TempDir,
		})
		if err != nil {
			x.ws.err = fmt.Errorf("executor: %w", err)
			return
		}
		x.ws.ws = ws
	})
	return x.ws.ws, x.ws.err
}

// cleanupWorkspace releases the workspace once every attempt has ended.
func (x *execution) cleanupWorkspace() {
	if x.ws.ws == nil {
		return
	}
	if err := x.ws.ws.Cleanup(context.Background()); err != nil {
		x.log.Warn("executor workspace not cleaned up", "run", x.run.ID, "err", err)
	}
}
