package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"github.com/moby/moby/client"

	"github.com/velocity-ci/velocity/internal/executor"
)

// Prepare implements executor.Executor: it creates the run's network,
// named from Run.ID and a random suffix (two Velocity processes may both
// have a run 1), on which the run's steps and sidecars find each other by
// name.
func (e *Executor) Prepare(ctx context.Context, run executor.Run) (executor.Workspace, error) {
	for _, dir := range []string{run.Dir, run.Scratch} {
		if dir == "" {
			continue
		}
		fi, err := os.Stat(dir)
		if err != nil {
			return nil, fmt.Errorf("prepare run %s: %w", run.ID, err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("prepare run %s: %s is not a directory", run.ID, dir)
		}
	}
	var suffix [4]byte
	rand.Read(suffix[:])
	name := "velocity-" + run.ID + "-" + hex.EncodeToString(suffix[:])
	if _, err := e.c.NetworkCreate(ctx, name, client.NetworkCreateOptions{
		Driver: "bridge",
		Labels: map[string]string{OwnerLabel: e.owner, RunLabel: name},
	}); err != nil {
		return nil, fmt.Errorf("prepare run %s: create network %s: %w", run.ID, name, err)
	}
	return &Workspace{e: e, run: run, network: name}, nil
}

// Workspace is a prepared run: its network and its directories.
type Workspace struct {
	e       *Executor
	run     executor.Run
	network string
	seq     atomic.Int64

	steps executor.Steps
	mu    sync.Mutex
	// links are the services each step reaches by name (service.go).
	links map[string][]string
}

var _ executor.Workspace = (*Workspace)(nil)

// Network is the name of the run's network, which sidecar containers join.
func (w *Workspace) Network() string { return w.network }

// Cleanup implements executor.Workspace: it removes every container of
// the run still there (a step's own removal failed, or a sidecar), then
// the network.
func (w *Workspace) Cleanup(ctx context.Context) error {
	w.steps.Close()
	ctx = context.WithoutCancel(ctx)
	var errs []error
	list, err := w.e.c.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: client.Filters{}.Add("label", RunLabel+"="+w.network),
	})
	if err != nil {
		errs = append(errs, err)
	}
	for _, c := range list.Items {
		if _, err := w.e.c.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true}); err != nil && !isGone(err) {
			errs = append(errs, err)
		}
	}
	if _, err := w.e.c.NetworkRemove(ctx, w.network, client.NetworkRemoveOptions{}); err != nil && !isGone(err) {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("clean up run %s: %w", w.run.ID, err)
	}
	return nil
}
