package home

import (
	"context"
	"errors"
	"os"
	"runtime"
	"time"

	"github.com/velocity-ci/velocity/internal/artifact"
	"github.com/velocity-ci/velocity/internal/executions"
	dockerexec "github.com/velocity-ci/velocity/internal/executor/docker"
	"github.com/velocity-ci/velocity/internal/executor/local"
	execroute "github.com/velocity-ci/velocity/internal/executor/route"
	"github.com/velocity-ci/velocity/internal/fault"
	"github.com/velocity-ci/velocity/internal/mirror"
	"github.com/velocity-ci/velocity/internal/projects"
	"github.com/velocity-ci/velocity/internal/releases"
	"github.com/velocity-ci/velocity/internal/runs"
	"github.com/velocity-ci/velocity/internal/secret"
	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/trigger"
)

// Runs is the runs service of the data directory, with what executing
// runs needs.
func (h *Home) Runs(ctx context.Context) (*runs.Service, error) {
	return h.RunsFor(ctx, nil)
}

// RunsFor is Runs whose runs deploy to host when it is not nil: the host
// velocity serve runs in this process.
func (h *Home) RunsFor(ctx context.Context, host *releases.Host) (*runs.Service, error) {
	blobs, err := artifact.OpenBlobs(h.blobDir())
	if err != nil {
		return nil, err
	}
	explainKey, err := h.explainKey()
	if err != nil {
		return nil, err
	}
	secrets, err := h.secrets()
	if err != nil {
		return nil, err
	}
	var svc *runs.Service
	deploys := h.deploys(blobs, secrets, func() *runs.Service { return svc })
	// The terminal is the only watcher of velocity run's run, there from
	// the start: little history is needed, and memory stays flat however
	// much the actions print. On the server, watchers come late (a second
	// terminal, the web page): they get the default.
	history := 1 << 20
	owner := ""
	var pollElsewhere time.Duration
	var hook runs.Hook = h.metrics
	if host != nil {
		// The server's runs are its projects': their failures alert.
		hook = runHooks{h.metrics, h.alerts}
		history = 0
		owner = serveOwner
		// Runs of other nodes go on under the eyes of this one's
		// watchers (the web UI), read from the journal.
		pollElsewhere = time.Second
		deploys = &releases.Deploys{Dial: func(context.Context) (releases.Remote, error) {
			return releases.InProcess(host.Service()), nil
		}}
	}
	svc = runs.New(runs.Config{
		Store:      h.metrics.RunsJournal(h.Store),
		Leases:     h.Store,
		LeaseTTL:   h.cfg.LeaseTTL,
		Holder:     h.holder,
		DataDir:    h.Dir,
		Blobs:      blobs,
		Secrets:    secrets,
		ExplainKey: explainKey,
		NewExecutor: func() (runs.Executor, error) {
			ex, err := local.New()
			if err != nil {
				return nil, err
			}
			// Docker (or the cluster) is reached only when a step names
			// an image.
			r := execroute.New(ex, func(ctx context.Context) (execroute.Closer, error) {
				if k := h.cfg.Kubernetes; k != nil {
					return k.executor(ctx, h.clusterImages(), h.cfg.Log)
				}
				return dockerexec.Connect(ctx, dockerexec.Options{Logger: h.cfg.Log})
			})
			if h.cfg.Kubernetes != nil {
				// An image step's pod runs its sidecars too.
				r.WithSidecars()
			}
			return r, nil
		},
		Deploys: runDeploys{deploys},
		// The executions of workflow actions go to the data directory's
		// workflow journal, run by the same runtime as 'velocity
		// workflow run'.
		Workflows:     runs.Workflows(executions.ActionsFactory(h.executionsConfig())),
		Images:        h.images(),
		Evict:         func(ctx context.Context, limit int64) { evict(ctx, h.cfg.Log, h.Store, blobs, limit) },
		History:       history,
		PollElsewhere: pollElsewhere,
		Environ:       h.cfg.Environ(),
		Version:       h.cfg.Version,
		Logger:        h.cfg.Log,
		Server:        h.SocketPath(),
		// The host may be a velocity run that serves what it deployed.
		HostName: func(ctx context.Context) string {
			if st, ok := h.Catalog().Serving(ctx); ok {
				return st.Host
			}
			return ""
		},
		Owner:      owner,
		OnFinished: h.onFinished(ctx, host != nil),
		Hook:       hook,
	})
	return svc, nil
}

// RunsReader is the runs service for commands that only read the journal
// or decide approvals: it starts nothing.
func (h *Home) RunsReader() *runs.Service {
	return runs.New(runs.Config{Store: h.Store, DataDir: h.Dir, Logger: h.cfg.Log})
}

// RunsArchive is RunsReader that also reads the blob store: the outputs
// of runs and what explains their cache misses.
func (h *Home) RunsArchive() (*runs.Service, error) {
	blobs, err := artifact.OpenBlobs(h.blobDir())
	if err != nil {
		return nil, err
	}
	return runs.New(runs.Config{Store: h.Store, DataDir: h.Dir, Blobs: blobs, Logger: h.cfg.Log}), nil
}

// runDeploys gives runs their deployers from the releases service: through
// the velocity serve (or hosting velocity run) that owns the data
// directory, else hosted by this process.
type runDeploys struct{ d *releases.Deploys }

// ForRun implements runs.Deploys.
func (r runDeploys) ForRun(ctx context.Context, t runs.DeployTarget) (runs.RunDeployer, error) {
	d, err := r.d.ForRun(ctx, releases.DeployTarget(t))
	if err != nil {
		return nil, userError(err)
	}
	return d, nil
}

// userError makes an error of the releases service one of kind
// fault.Invalid when the user named something wrong or missing.
func userError(err error) error {
	// A client's errors answer to the same classes (server.Error.Is).
	if errors.Is(err, releases.ErrInvalid) || errors.Is(err, store.ErrNotFound) {
		return fault.Invalidf("%v", err)
	}
	return err
}

// executionsConfig is what the executions service of the data directory
// is built from.
func (h *Home) executionsConfig() executions.Config {
	c := executions.Config{Store: h.metrics.WorkflowsJournal(h.Store), Leases: h.Store, LeaseTTL: h.leaseTTL(), DataDir: h.Dir, Log: h.cfg.Log}
	if self, err := os.Executable(); err == nil {
		c.ResumeCommand = []string{self, "--data-dir", h.Dir, "workflow", "resume"}
	}
	return c
}

// Executions builds the executions service of the data directory; close
// it when done.
func (h *Home) Executions(ctx context.Context) *executions.Service {
	return executions.New(ctx, h.executionsConfig())
}

// Catalog is what the data directory knows of its releases, asking its
// host (when one runs) what serves.
func (h *Home) Catalog() *releases.Catalog {
	return &releases.Catalog{
		DataDir: h.Dir, Journal: h.Store, Runs: h.Store,
		AskHost: func(ctx context.Context) (releases.Status, bool) {
			c, st := h.DialServer(ctx)
			if c == nil {
				return st, false
			}
			c.Close()
			return st, true
		},
	}
}

// Projects is the projects service of the data directory. With runsSvc
// (velocity serve's runs service) its Run starts the runs of the queues
// and fires schedules through sched; without, it adds, lists and queues
// only, and the requests wait for a server.
func (h *Home) Projects(runsSvc *runs.Service) (*projects.Service, *trigger.Scheduler, error) {
	seal, err := secret.Open(h.Dir, h.cfg.Getenv("VELOCITY_SECRET_KEY"))
	if err != nil {
		return nil, nil, err
	}
	var runner projects.Runner
	if runsSvc != nil {
		runner = runsSvc
	}
	var svc *projects.Service
	sched := &trigger.Scheduler{
		Fires: h.Store,
		List: func(ctx context.Context) ([]trigger.Entry, error) {
			entries, problems, err := svc.Schedules(ctx)
			for _, p := range problems {
				h.cfg.Log.Warn("a project's schedules cannot be read", "problem", p)
			}
			return entries, err
		},
		Fire: func(ctx context.Context, e trigger.Entry, due time.Time, missed bool) error {
			return svc.Fire(ctx, e, due, missed)
		},
		Log: h.cfg.Log,
	}
	cfg := projects.Config{
		Store:   h.Store,
		Runs:    runner,
		Mirrors: h.mirrors(),
		Sealer:  seal,
		// A server's runs are its own: as many actions at once as it has
		// cores, like velocity run, and deploys go to its host.
		Template: runs.StartRequest{Jobs: runtime.NumCPU(), NoServe: true},
		Changed:  sched.Refresh,
		LeaseTTL: h.cfg.LeaseTTL,
		Log:      h.cfg.Log,
	}
	if runsSvc != nil {
		cfg.Schedules = sched.Run
	}
	svc = projects.New(cfg)
	return svc, sched, nil
}

func (h *Home) mirrors() mirror.Mirrors { return mirror.Mirrors{Dir: h.mirrorDir(), Log: h.cfg.Log} }
