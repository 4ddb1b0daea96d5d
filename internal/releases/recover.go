package releases

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/velocity-ci/velocity/internal/store"
)

// Recovery is what Recover found in the journal.
type Recovery struct {
	// Interrupted were deploying when the previous server died.
	Interrupted []store.Deployment
	// Restoring are the live releases being deployed again.
	Restoring []store.Deployment
	done      chan struct{}
	mu        sync.Mutex
	failed    map[int64]error
}

// Wait blocks until every live release is back (or failed to come back)
// and returns the failures by deployment.
func (r *Recovery) Wait() map[int64]error {
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

// Recover settles the journal when the server starts: deployments that
// were in progress when the previous server died are marked interrupted,
// and every release that was live is deployed again, in the background.
// Each service's lock is taken before Recover returns, so a request that
// comes in meanwhile waits for its service to be back. A release that
// cannot come back (its files were evicted, it no longer becomes healthy)
// is marked failed with the reason.
func (s *Service) Recover(ctx context.Context) (*Recovery, error) {
	const why = "velocity serve stopped while the deploy was in progress (killed or crashed)"
	interrupted, err := s.Journal.InterruptDeployments(ctx, why, time.Now())
	if err != nil {
		return nil, err
	}
	live, err := s.Journal.LiveDeployments(ctx)
	if err != nil {
		return nil, err
	}
	rec := &Recovery{Interrupted: interrupted, Restoring: live, done: make(chan struct{}), failed: map[int64]error{}}
	var wg sync.WaitGroup
	for _, d := range live {
		unlock := s.lock(d.Environment, d.Service)
		wg.Go(func() {
			defer unlock()
			if err := s.restore(ctx, d); err != nil {
				rec.mu.Lock()
				rec.failed[d.ID] = err
				rec.mu.Unlock()
				reason, _, _ := strings.Cut(err.Error(), "\n")
				if jerr := s.Journal.SetDeploymentStatus(context.WithoutCancel(ctx), d.ID, store.DeployFailed,
					"not restored when velocity serve started: "+reason, time.Now()); jerr != nil {
					s.log().Error("journal a release that did not come back", "deployment", d.ID, "err", jerr)
				}
				s.log().Error("release not restored", "environment", d.Environment, "service", d.Service, "release", d.Release, "err", err)
				return
			}
			s.log().Info("release restored", "environment", d.Environment, "service", d.Service, "release", d.Release)
		})
	}
	go func() { wg.Wait(); close(rec.done) }()
	return rec, nil
}

// restore deploys a live release again; it stays the same deployment.
func (s *Service) restore(ctx context.Context, d store.Deployment) error {
	def, err := decodeDefinition(d.Definition)
	if err != nil {
		return fmt.Errorf("deployment %d: definition: %w", d.ID, err)
	}
	req, err := s.request(def, d, io.Discard)
	if err != nil {
		return err
	}
	_, err = s.Deployer.Deploy(ctx, req)
	return err
}

// Settle marks the deployments that were in progress when the previous
// host died interrupted, without bringing back what was live: a velocity
// run hosts what it deploys itself.
func (s *Service) Settle(ctx context.Context) ([]store.Deployment, error) {
	const why = "velocity serve stopped while the deploy was in progress (killed or crashed)"
	return s.Journal.InterruptDeployments(ctx, why, time.Now())
}
