package runs

import (
	"context"
	"log/slog"

	"github.com/velocity-ci/velocity/internal/engine"
	"github.com/velocity-ci/velocity/internal/netport"
	"github.com/velocity-ci/velocity/internal/spec"
)

// Deploys gives a run what its deploy actions need. ForRun is called once,
// before the run starts, only for runs that select a deploy action.
type Deploys interface {
	ForRun(ctx context.Context, t DeployTarget) (RunDeployer, error)
}

// DeployTarget is what a run's deploys are for.
type DeployTarget struct {
	Pipeline  *spec.Pipeline
	Commit    string
	Replace   bool            // --replace
	Ports     netport.Range   // --port-range / port_range
	Picker    *netport.Picker // shared with the run's sidecars
	ProxyAddr string          // --proxy-addr; "" = default
	Log       *slog.Logger
}

// RunDeployer carries out one run's deploys: through a velocity serve (or
// another hosting velocity run) that owns the data directory when there is
// one, else hosted by this process.
type RunDeployer interface {
	engine.Deployer
	// Hosted reports whether this process hosts the deployed services (no
	// server owned the data directory); URLs lists what was deployed.
	Hosted() bool
	URLs() []string
	// Serve keeps hosting after a successful run until ctx ends (velocity
	// run without --no-serve); say prints progress lines. No-op when not
	// Hosted.
	Serve(ctx context.Context, say func(format string, args ...any))
	Close()
}

// Workflows makes what a run's workflow actions start executions with;
// it is called once, for runs that select a workflow action, and release
// is called when the run ends.
type Workflows func(ctx context.Context) (w engine.Workflows, release func(), err error)

// Images makes what a run's build actions build with; it is called once,
// for runs that select a build action (so that only they connect to a
// Docker Engine), and release is called when the run ends.
type Images func(ctx context.Context) (i engine.Images, release func(), err error)
