package releases

import (
	"context"
	"fmt"
	"io"

	"github.com/velocity-ci/velocity/internal/fault"
	"github.com/velocity-ci/velocity/internal/store"
)

// Rollback deploys an earlier release again, by the strategy it was
// deployed with: the named one, or the one that served before the live
// release first went live.
func (s *Service) Rollback(ctx context.Context, req RollbackRequest, log io.Writer) (DeployResult, error) {
	if req.Environment == "" || req.Service == "" {
		return DeployResult{}, fault.Invalidf("a rollback needs an environment and a service")
	}
	defer s.lock(req.Environment, req.Service)()
	ds, err := s.Journal.Deployments(ctx, req.Environment, req.Service)
	if err != nil {
		return DeployResult{}, err
	}
	if len(ds) == 0 {
		return DeployResult{}, fault.NotFoundf("no deployments of %s in %s on this server", req.Service, req.Environment)
	}
	target, live, err := rollbackTarget(ds, req)
	if err != nil {
		return DeployResult{}, err
	}
	def, err := decodeDefinition(target.Definition)
	if err != nil {
		return DeployResult{}, fmt.Errorf("deployment %d: definition: %w", target.ID, err)
	}
	d := store.Deployment{
		Environment: target.Environment, Service: target.Service, Release: target.Release,
		RunID: target.RunID, Commit: target.Commit, Files: target.Files, Rollback: true,
	}
	if live != nil {
		d.Reason = "rollback from " + live.Release
	}
	fmt.Fprintf(log, "velocity: %s/%s: rolling back to release %s (run %d)\n", req.Environment, req.Service, target.Release, target.RunID)
	return s.carryOut(ctx, d, def, log)
}

// rollbackTarget picks the deployment to put back from ds (newest first).
func rollbackTarget(ds []store.Deployment, req RollbackRequest) (target, live *store.Deployment, err error) {
	for i := range ds {
		if ds[i].Status == store.Live {
			live = &ds[i]
			break
		}
	}
	served := func(d store.Deployment) bool {
		return d.Status == store.Superseded || d.Status == store.RolledBack
	}
	if req.To != "" {
		if live != nil && live.Release == req.To {
			return nil, nil, fault.Conflictf("release %s of %s already serves in %s", req.To, req.Service, req.Environment)
		}
		known := false
		for i := range ds {
			if ds[i].Release != req.To {
				continue
			}
			known = true
			if served(ds[i]) {
				return &ds[i], live, nil
			}
		}
		if known {
			return nil, nil, fault.Conflictf("release %s of %s never served in %s; roll back to one that did (see 'velocity releases %s %s')",
				req.To, req.Service, req.Environment, req.Environment, req.Service)
		}
		return nil, nil, fault.NotFoundf("no release %s of %s in %s (see 'velocity releases %s %s')",
			req.To, req.Service, req.Environment, req.Environment, req.Service)
	}
	if live == nil {
		return nil, nil, fault.Conflictf("no release of %s serves in %s, so there is no previous one; name one with --to (see 'velocity releases %s %s')",
			req.Service, req.Environment, req.Environment, req.Service)
	}
	// The release that served before the live one first went live: going
	// back twice walks back through the history instead of toggling
	// between the last two.
	first := live.ID
	for _, d := range ds {
		if d.Release == live.Release && d.ID < first {
			first = d.ID
		}
	}
	// Another project's releases of the same service name are skipped:
	// going back must not swap in a different program.
	project := ProjectOf(*live)
	for i := range ds {
		other := ProjectOf(ds[i])
		if project != "" && other != "" && other != project {
			continue
		}
		if ds[i].ID < first && ds[i].Status == store.Superseded && ds[i].Release != live.Release {
			return &ds[i], live, nil
		}
	}
	if project != "" {
		return nil, nil, fault.Conflictf("%s in %s has no release of project %s before %s to roll back to (--to names any release, see 'velocity releases %s %s')",
			req.Service, req.Environment, project, live.Release, req.Environment, req.Service)
	}
	return nil, nil, fault.Conflictf("%s in %s has no release before %s to roll back to", req.Service, req.Environment, live.Release)
}
