// Package home is the composition root: an opened data directory and the
// services built on it. It is the one package that names the concrete
// parts (the SQLite journal, the local executor, the blob store, lock
// files); the command line and the server get services from it.
// journal.go picks the store: SQLite in the data directory, or PostgreSQL.
package home

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/velocity-ci/velocity/internal/alerts"
	"github.com/velocity-ci/velocity/internal/clusterimages"
	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/telemetry"
	"github.com/velocity-ci/velocity/internal/tracing"
)

// Config is what a data directory is opened with, given by the command
// line.
type Config struct {
	// Dir is the data directory, absolute; it is created when missing.
	Dir string
	// Store is the URL of a PostgreSQL database (postgres://…) to keep
	// the journal in instead of the data directory's SQLite file; ""
	// for the file. Logs, workspaces and lock files stay in Dir either way.
	Store string
	// Kubernetes, when set, runs the actions that name an image as pods
	// instead of Docker containers.
	Kubernetes *Kubernetes
	// SharedDir, when set, is a directory every node sharing Store
	// mounts at the same path: the projects' mirrors and the blob store
	// (outputs, result and dependency caches) live there instead of in
	// Dir, so that any node accepts a push and takes over a run another
	// node started. "" keeps them in Dir.
	SharedDir string
	// LeaseTTL is how long the leases of this process's runs outlive it:
	// how soon another node takes over a run of a dead one. Zero is
	// store.DefaultLeaseTTL.
	LeaseTTL time.Duration
	// Getenv reads the process environment (VELOCITY_SECRET_KEY).
	Getenv func(string) string
	// Environ is the environment actions and services start from.
	Environ func() []string
	// Version is part of every result-cache key and host status.
	Version string
	// Log receives what operators may want to know.
	Log *slog.Logger
	// Stderr receives warnings a user should see at once (a server that
	// does not answer properly).
	Stderr io.Writer
}

// Home is an opened data directory. Close it when done.
type Home struct {
	// Dir is the data directory.
	Dir string
	// Store is its journal.
	Store Journal
	cfg   Config
	// tracer exports runs as traces once built (see traces).
	tracesMu    sync.Mutex
	tracesBuilt bool
	tracer      *tracing.Exporter
	// metrics count what this process does with the data directory;
	// alerts post to its projects' alert webhooks (velocity serve's).
	metrics   *telemetry.Metrics
	alerts    *alerts.Notifier
	queueOnce sync.Once
	// runRegistry serves the container registry to this process's runs
	// (see RunRegistry), from their first push until Close.
	runRegistry runRegistry
	// publisher makes built images pullable by the cluster (see
	// clusterImages).
	publisherOnce sync.Once
	publisher     *clusterimages.Publisher
	// holder names this process in the store's leases: its runs', its
	// node's, and those it takes over.
	holder string
}

// Journal is what is kept in the data directory's store. Only Open names
// an implementation; everything else holds these interfaces, so another
// store can take SQLite's place.
type Journal interface {
	store.Store // with Close
	store.Deployments
	store.Workflows
	store.Leases
	store.Tokens
	store.StateMachines
	store.Projects
	store.Requests
	store.ScheduleFires
	store.Nodes
}

// Open opens the data directory of cfg and settles runs whose owner died
// (see recover), so that any command notices a killed `velocity run` and
// records it as interrupted.
func Open(ctx context.Context, cfg Config) (*Home, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Getenv == nil {
		cfg.Getenv = os.Getenv
	}
	if cfg.Environ == nil {
		cfg.Environ = os.Environ
	}
	if cfg.Stderr == nil {
		cfg.Stderr = io.Discard
	}
	if err := makePrivate(cfg.Dir, cfg.Log); err != nil {
		return nil, err
	}
	st, err := openJournal(ctx, cfg)
	if err != nil {
		return nil, err
	}
	h := &Home{Dir: cfg.Dir, Store: st, cfg: cfg, metrics: telemetry.New(), holder: store.NewHolder()}
	h.alerts = h.newAlerts()
	if err := h.recover(ctx); err != nil {
		st.Close()
		return nil, err
	}
	return h, nil
}

// Close sends the traces of runs not sent yet (waiting a moment at
// most), stops posting alerts and closes the journal.
func (h *Home) Close() {
	h.closeTraces()
	h.alerts.Close()
	h.closeRunRegistry()
	h.Store.Close()
}

// SocketPath is the control socket of the data directory's server.
func (h *Home) SocketPath() string { return filepath.Join(h.Dir, "velocity.sock") }

func (h *Home) lockPath(token string) string { return filepath.Join(h.Dir, "locks", token+".lock") }

func (h *Home) scratch(token string) string { return filepath.Join(h.Dir, "tmp", token) }

func (h *Home) blobDir() string { return filepath.Join(h.sharedDir(), "blobs") }

// leaseTTL is how long this process's run leases outlive it.
func (h *Home) leaseTTL() time.Duration { return cmp.Or(h.cfg.LeaseTTL, store.DefaultLeaseTTL) }

func (h *Home) mirrorDir() string { return filepath.Join(h.sharedDir(), "mirrors") }

// sharedDir is where what every node must see is kept: the shared
// directory, or the data directory on a node of its own.
func (h *Home) sharedDir() string {
	if h.cfg.SharedDir != "" {
		return h.cfg.SharedDir
	}
	return h.Dir
}

// makePrivate creates the data directory with mode 0700, or takes group
// and other permissions away from an existing one (made 0755 by an older
// velocity, or by hand): the journal, logs, workspaces and releases in it
// are the owner's alone. Everything inside is created 0700 or 0600 too;
// this is what keeps older files and files with the project's own modes
// (workspace copies) private.
func makePrivate(dir string, log *slog.Logger) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data directory %s: %w", dir, err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("data directory %s: %w", dir, err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		if err := os.Chmod(dir, perm&^0o077); err != nil {
			return fmt.Errorf("data directory %s is accessible to other users (%v) and cannot be made private: %w", dir, perm, err)
		}
		log.Info("data directory made private", "dir", dir, "was", perm, "now", perm&^0o077)
	}
	return nil
}
