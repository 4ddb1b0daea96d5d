package releases

import (
	"context"
	"log/slog"
	"os"
	"sync"

	"github.com/velocity-ci/velocity/internal/deploy"
	"github.com/velocity-ci/velocity/internal/fault"
	"github.com/velocity-ci/velocity/internal/store"
)

// Secrets gives instances the secrets their service lists. Get is called
// once per deploy and secret, from the deploying goroutine.
type Secrets interface {
	Get(name string) ([]byte, error)
}

// Service carries out deploys and rollbacks on one host, journaling each
// before it acts. Host builds it; its methods may be called at once from
// any goroutine.
type Service struct {
	Deployer *deploy.Deployer
	Journal  store.Deployments
	Secrets  Secrets
	// Env returns the instances' base environment for a pipeline's
	// env_passthrough (the host's own variables, filtered); for
	// containers (image true) only what env_passthrough names, as the
	// image has its own PATH, HOME and the rest.
	Env     func(passthrough []string, image bool) []string
	Logger  *slog.Logger
	Version string
	// Name names the hosting command in Status.
	Name string
	// Meter, when set, is told how each deploy and rollback ended.
	Meter Meter
	// Images resolves the image of a service with one to its ID when a
	// release of it is deployed; nil deploys the reference as it is.
	Images Images

	mu    sync.Mutex
	locks map[string]*sync.Mutex // by "env/service": one journal+deploy at a time
}

// Images resolves image references. Deploy calls it, from the deploying
// goroutine, once per release of a service with an image; the error says
// why the image cannot be had (no Docker Engine, not pulled).
type Images interface {
	ImageID(ctx context.Context, ref string) (string, error)
}

func (s *Service) log() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// lock serialises journal writes and deploys of one service in one
// environment, so the journal's order is the order things happened.
func (s *Service) lock(env, service string) func() {
	s.mu.Lock()
	if s.locks == nil {
		s.locks = map[string]*sync.Mutex{}
	}
	key := env + "/" + service
	m := s.locks[key]
	if m == nil {
		m = &sync.Mutex{}
		s.locks[key] = m
	}
	s.mu.Unlock()
	m.Lock()
	return m.Unlock
}

// Status says what this host serves.
func (s *Service) Status() Status {
	return Status{Host: s.Name, Version: s.Version, ProxyURL: s.Deployer.ProxyURL, Pid: os.Getpid(), Services: s.Deployer.Statuses()}
}

// Releases lists the deployments of service in env, newest first. It
// fails with ErrInvalid without both names.
func (s *Service) Releases(ctx context.Context, env, service string) ([]Release, error) {
	return journaled(ctx, s.Journal, env, service)
}

func journaled(ctx context.Context, j store.Deployments, env, service string) ([]Release, error) {
	if env == "" || service == "" {
		return nil, fault.Invalidf("environment and service are required")
	}
	ds, err := j.Deployments(ctx, env, service)
	if err != nil {
		return nil, err
	}
	out := make([]Release, 0, len(ds))
	for _, d := range ds {
		out = append(out, ReleaseOf(d))
	}
	return out, nil
}
