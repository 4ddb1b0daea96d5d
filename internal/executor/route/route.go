// Package route sends each step to the executor that can run it: a step
// naming an image to a container executor, the others to the host's.
//
// The container executor is made on the first step that names an image,
// so that a pipeline without images never touches Docker: no start-up
// cost, and no failure on a machine without it.
package route

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/velocity-ci/velocity/internal/executor"
)

// Closer is an executor that holds something until closed.
type Closer interface {
	executor.Executor
	Close() error
}

// Executor routes steps by Step.Image.
type Executor struct {
	host     Closer
	images   func(ctx context.Context) (Closer, error)
	sidecars bool

	once sync.Once
	img  Closer
	err  error
}

var _ executor.Executor = (*Executor)(nil)

// New routes steps without an image to host, and those with one to the
// executor images makes when the first of them runs.
func New(host Closer, images func(ctx context.Context) (Closer, error)) *Executor {
	return &Executor{host: host, images: images}
}

// WithSidecars says that the executor images makes runs the sidecars of
// image steps inside them (Kubernetes pods), which Capabilities reports
// before that executor is made. Call it before e is used; it returns e.
func (e *Executor) WithSidecars() *Executor {
	e.sidecars = true
	return e
}

// Capabilities implements executor.Executor: images are run (by the
// container executor), and their sidecars inside them after
// WithSidecars; limits are refused where the executor that runs the step
// cannot enforce them.
func (e *Executor) Capabilities() executor.Capabilities {
	return executor.Capabilities{Image: e.images != nil, Sidecars: e.images != nil && e.sidecars}
}

// Images returns the container executor, making it on the first call. A
// failure is kept: every later image step fails with it at once rather
// than waiting for an engine that did not answer.
func (e *Executor) Images(ctx context.Context) (executor.Executor, error) {
	e.once.Do(func() {
		if e.images == nil {
			e.err = errors.New("no container executor here")
			return
		}
		img, err := e.images(ctx)
		if err != nil {
			// A typed nil in the interface would look like an executor.
			e.err = err
			return
		}
		e.img = img
	})
	return e.img, e.err
}

// Close closes both executors.
func (e *Executor) Close() error {
	err := e.host.Close()
	// The once also orders this read after an Images in progress.
	e.once.Do(func() { e.err = errors.New("closed") })
	if e.img != nil {
		err = errors.Join(err, e.img.Close())
	}
	return err
}

// Prepare implements executor.Executor: it prepares the run on the host
// now, and in the container executor when its first image step runs.
func (e *Executor) Prepare(ctx context.Context, run executor.Run) (executor.Workspace, error) {
	ws, err := e.host.Prepare(ctx, run)
	if err != nil {
		return nil, err
	}
	return &Workspace{e: e, run: run, host: ws}, nil
}

// Workspace is a run prepared on the host and, lazily, in containers.
type Workspace struct {
	e    *Executor
	run  executor.Run
	host executor.Workspace

	mu      sync.Mutex
	images  executor.Workspace
	err     error
	tried   bool
	cleaned bool
}

// Run implements executor.Workspace.
func (w *Workspace) Run(ctx context.Context, step executor.Step) (executor.Result, error) {
	if len(step.Sidecars) > 0 && (step.Image == "" || !w.e.sidecars) {
		return executor.Result{}, fmt.Errorf("%s: sidecars inside the step: %w", step.Name, executor.ErrUnsupported)
	}
	if step.Image == "" {
		return w.host.Run(ctx, step)
	}
	ws, err := w.Images(ctx)
	if err != nil {
		return executor.Result{}, fmt.Errorf("%s runs in image %s: %w", step.Name, step.Image, err)
	}
	return ws.Run(ctx, step)
}

// Images returns the run's workspace in the container executor, preparing
// it on the first call.
func (w *Workspace) Images(ctx context.Context) (executor.Workspace, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cleaned {
		return nil, errors.New("run after the workspace was cleaned up")
	}
	if !w.tried {
		w.tried = true
		ex, err := w.e.Images(context.WithoutCancel(ctx))
		if err == nil {
			w.images, err = ex.Prepare(context.WithoutCancel(ctx), w.run)
		}
		w.err = err
	}
	return w.images, w.err
}

// Cleanup implements executor.Workspace.
func (w *Workspace) Cleanup(ctx context.Context) error {
	w.mu.Lock()
	w.cleaned = true
	images := w.images
	w.mu.Unlock()
	err := w.host.Cleanup(ctx)
	if images != nil {
		err = errors.Join(err, images.Cleanup(ctx))
	}
	return err
}
