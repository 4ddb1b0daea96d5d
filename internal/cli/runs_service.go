package cli

import (
	"context"

	"github.com/velocity-ci/velocity/internal/artifact"
	"github.com/velocity-ci/velocity/internal/engine"
	"github.com/velocity-ci/velocity/internal/executor/local"
	"github.com/velocity-ci/velocity/internal/runs"
	"github.com/velocity-ci/velocity/internal/server"
)

// runsService builds the runs service of the data directory h, with what
// executing runs needs: this is composition, kept apart from the
// commands that call the service.
func (a *app) runsService(ctx context.Context, h *home) (*runs.Service, error) {
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
	return runs.New(runs.Config{
		Store:      h.store,
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
		Deploys: &cliDeploys{a: a, h: h, blobs: blobs, secrets: secrets},
		// The executions of workflow actions go to the data directory's
		// workflow journal, run by the same runtime as 'velocity
		// workflow run'.
		Workflows: func(ctx context.Context) (engine.Workflows, func(), error) {
			wrt, err := a.newWorkflowRuntime(ctx, h)
			if err != nil {
				return nil, nil, err
			}
			return newActionWorkflows(wrt), wrt.close, nil
		},
		Evict: func(ctx context.Context, limit int64) { a.evict(ctx, h.store, blobs, limit) },
		// The terminal is the only watcher of velocity run's run, there
		// from the start: little history is needed, and memory stays flat
		// however much the actions print.
		History: 1 << 20,
		Environ: a.environ(),
		Version: Version,
		Logger:  a.log,
		Server:  h.socketPath(),
	}), nil
}

// runsReader is the runs service for commands that only read the journal
// or decide approvals: it starts nothing.
func (a *app) runsReader(h *home) *runs.Service {
	return runs.New(runs.Config{Store: h.store, DataDir: h.dir, Logger: a.log})
}

// cliDeploys carries out a run's deploys through the data directory's
// server when one runs (the services outlive the run there), else hosts
// them in this process.
type cliDeploys struct {
	a       *app
	h       *home
	blobs   *artifact.Blobs
	secrets engine.Secrets
}

// ForRun implements runs.Deploys.
func (d *cliDeploys) ForRun(ctx context.Context, t runs.DeployTarget) (runs.RunDeployer, error) {
	if c, _ := d.a.dialServer(ctx, d.h); c != nil {
		return &remoteRunDeployer{client: c, remoteDeployer: &remoteDeployer{
			client: c, pipeline: t.Pipeline, commit: t.Commit, replace: t.Replace, ports: t.Ports}}, nil
	}
	h, err := d.a.startHost(t.Pipeline, d.h, d.blobs, d.secrets, d.a.proxyAddr(t.ProxyAddr), t.Picker, t.Ports, t.Log)
	if err != nil {
		return nil, err
	}
	return hostedRunDeployer{h}, nil
}

// hostedRunDeployer is a host as a runs.RunDeployer.
type hostedRunDeployer struct{ *host }

func (hostedRunDeployer) Hosted() bool     { return true }
func (d hostedRunDeployer) URLs() []string { return d.deployer.URLs() }
func (d hostedRunDeployer) Close()         { d.close() }
func (d hostedRunDeployer) Serve(ctx context.Context, say func(string, ...any)) {
	d.serve(ctx, say)
}

// remoteRunDeployer is a remoteDeployer as a runs.RunDeployer.
type remoteRunDeployer struct {
	*remoteDeployer
	client *server.Client
}

func (*remoteRunDeployer) Hosted() bool                                { return false }
func (*remoteRunDeployer) Serve(context.Context, func(string, ...any)) {}
func (d *remoteRunDeployer) Close()                                    { d.client.Close() }
func (d *remoteRunDeployer) URLs() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.urls...)
}

var (
	_ runs.RunDeployer = hostedRunDeployer{}
	_ runs.RunDeployer = (*remoteRunDeployer)(nil)
)
