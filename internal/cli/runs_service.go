package cli

import (
	"context"

	"github.com/velocity-ci/velocity/internal/artifact"
	"github.com/velocity-ci/velocity/internal/executions"
	"github.com/velocity-ci/velocity/internal/executor/local"
	"github.com/velocity-ci/velocity/internal/releases"
	"github.com/velocity-ci/velocity/internal/runs"
)

// runsService builds the runs service of the data directory h, with what
// executing runs needs: this is composition, kept apart from the
// commands that call the service.
func (a *app) runsService(ctx context.Context, h *home) (*runs.Service, error) {
	return a.runsServiceFor(ctx, h, nil)
}

// runsServiceFor is runsService whose runs deploy to host when it is not
// nil: the host velocity serve runs in this process.
func (a *app) runsServiceFor(ctx context.Context, h *home, host *releases.Host) (*runs.Service, error) {
	blobs, err := artifact.OpenBlobs(h.blobDir())
	if err != nil {
		return nil, err
	}
	explainKey, err := h.explainKey()
	if err != nil {
		return nil, err
	}
	secrets, err := a.openSecrets(h)
	if err != nil {
		return nil, err
	}
	deploys := a.deploys(h, blobs, secrets)
	if host != nil {
		deploys = &releases.Deploys{Dial: func(context.Context) (releases.Remote, error) {
			return releases.InProcess(host.Service()), nil
		}}
	}
	return runs.New(runs.Config{
		Store:      h.store,
		Leases:     h.store,
		DataDir:    h.dir,
		Blobs:      blobs,
		Secrets:    secrets,
		ExplainKey: explainKey,
		NewExecutor: func() (runs.Executor, error) {
			ex, err := local.New()
			if err != nil {
				return nil, err
			}
			return ex, nil
		},
		Deploys: runDeploys{deploys},
		// The executions of workflow actions go to the data directory's
		// workflow journal, run by the same runtime as 'velocity
		// workflow run'.
		Workflows: runs.Workflows(executions.ActionsFactory(a.workflowConfig(h))),
		Evict:     func(ctx context.Context, limit int64) { a.evict(ctx, h.store, blobs, limit) },
		// The terminal is the only watcher of velocity run's run, there
		// from the start: little history is needed, and memory stays flat
		// however much the actions print.
		History: 1 << 20,
		Environ: a.environ(),
		Version: Version,
		Logger:  a.log,
		Server:  h.socketPath(),
		// The host may be a velocity run that serves what it deployed.
		HostName: func(ctx context.Context) string {
			if st, ok := a.catalog(h).Serving(ctx); ok {
				return st.Host
			}
			return ""
		},
	}), nil
}

// runsReader is the runs service for commands that only read the journal
// or decide approvals: it starts nothing.
func (a *app) runsReader(h *home) *runs.Service {
	return runs.New(runs.Config{Store: h.store, DataDir: h.dir, Logger: a.log})
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
