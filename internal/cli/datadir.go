package cli

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/velocity-ci/velocity/internal/home"
	"github.com/velocity-ci/velocity/internal/store"
)

// dataDir resolves where Velocity keeps its state: --data-dir, then
// $VELOCITY_HOME, then the XDG data directory. A command that would use
// it while VELOCITY_SERVER names a server is refused (see notRemote).
func (a *app) resolveDataDir() (string, error) {
	if err := a.notRemote(); err != nil {
		return "", err
	}
	if a.dataDir != "" {
		return filepath.Abs(a.dataDir)
	}
	if d := a.getenv("VELOCITY_HOME"); d != "" {
		return filepath.Abs(d)
	}
	if d := a.getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "velocity"), nil
	}
	userHome, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no data directory: set --data-dir or VELOCITY_HOME (%w)", err)
	}
	return filepath.Join(userHome, ".local", "share", "velocity"), nil
}

// openHome opens the data directory, through the composition root
// cmd/velocity handed to Main, and settles runs whose owner died.
func (a *app) openHome(ctx context.Context) (*home.Home, error) {
	dir, err := a.resolveDataDir()
	if err != nil {
		return nil, err
	}
	return a.open(ctx, home.Config{Dir: dir, Store: a.storeURL(), SharedDir: a.sharedDir(), LeaseTTL: a.leaseTTL,
		Kubernetes: a.kubernetes(), Getenv: a.getenv, Environ: a.environ, Version: Version, Log: a.log, Stderr: a.stderr})
}

// kubernetes is where actions with an image run when not in Docker:
// serve --kube-namespace, then $VELOCITY_KUBE_NAMESPACE (so that every
// command of a node runs them as its server does); nil for Docker.
func (a *app) kubernetes() *home.Kubernetes {
	ns := cmp.Or(a.kubeNamespace, a.getenv("VELOCITY_KUBE_NAMESPACE"))
	if ns == "" {
		return nil
	}
	config := cmp.Or(a.kubeconfig, a.getenv("KUBECONFIG"))
	if config == "" {
		if home, err := os.UserHomeDir(); err == nil {
			config = filepath.Join(home, ".kube", "config")
		}
	}
	return &home.Kubernetes{Namespace: ns, Kubeconfig: config}
}

// sharedDir is the directory the nodes sharing the store all mount:
// serve --shared-dir, then $VELOCITY_SHARED_DIR (so that every command
// of a node finds the mirrors and blobs its server uses), else "".
func (a *app) sharedDir() string {
	d := a.shared
	if d == "" {
		d = a.getenv("VELOCITY_SHARED_DIR")
	}
	if d == "" {
		return ""
	}
	if abs, err := filepath.Abs(d); err == nil {
		return abs
	}
	return d
}

// storeURL is where the journal is kept: serve --store, then
// $VELOCITY_STORE (so that every command of a node reads the journal its
// server writes), else "" for the data directory's SQLite file.
func (a *app) storeURL() string {
	if a.store != "" {
		return a.store
	}
	return a.getenv("VELOCITY_STORE")
}

// withHome wraps a command that works on the data directory: it opens it
// (settling runs whose owner died) and closes it afterwards.
func (a *app) withHome(fn func(ctx context.Context, h *home.Home, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		ctx := cmd.Context()
		h, err := a.openHome(ctx)
		if err != nil {
			return err
		}
		defer h.Close()
		return fn(ctx, h, args)
	}
}

// runArg resolves a RUN argument: a number, or "last" for the newest run.
func (a *app) runArg(ctx context.Context, h *home.Home, arg string) (store.Run, error) {
	if arg == "" || arg == "last" {
		runs, err := h.Store.Runs(ctx, store.RunFilter{Limit: 1})
		if err != nil {
			return store.Run{}, err
		}
		if len(runs) == 0 {
			return store.Run{}, usageError("no runs yet in %s: start one with 'velocity run'", h.Dir)
		}
		return runs[0], nil
	}
	var id int64
	if _, err := fmt.Sscan(strings.TrimPrefix(arg, "#"), &id); err != nil || id <= 0 {
		return store.Run{}, usageError("%q is not a run number (see 'velocity runs')", arg)
	}
	r, err := h.Store.Run(ctx, id)
	if err != nil {
		return r, usageError("run %d not found in %s (see 'velocity runs')", id, h.Dir)
	}
	return r, nil
}
