package releases

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/moby/moby/client"

	"github.com/velocity-ci/velocity/internal/docker"
	"github.com/velocity-ci/velocity/internal/netport"
	"github.com/velocity-ci/velocity/internal/runtime"
	containers "github.com/velocity-ci/velocity/internal/runtime/docker"
)

// runtimes is the host's runtime: an instance whose Spec names an image
// runs as a container, any other as a host process. Docker is connected
// to on the first instance with an image, so that a host whose services
// have none never needs (or waits for) a Docker Engine; a failed
// connection is not kept, the next deploy tries again.
type runtimes struct {
	local *runtime.Local
	cfg   containers.Config // without Client until connected

	mu     sync.Mutex
	client *client.Client
	ctr    *containers.Runtime
	closed bool // by Close: no connection is made after it
}

var (
	_ runtime.Runtime = (*runtimes)(nil)
	_ limiter         = (*runtimes)(nil)
)

func newRuntimes(local *runtime.Local, owner string, log *slog.Logger, ports *netport.Picker, portRange netport.Range) *runtimes {
	return &runtimes{local: local, cfg: containers.Config{Owner: owner, Logger: log, Ports: ports, PortRange: portRange}}
}

// Start implements runtime.Runtime.
func (r *runtimes) Start(ctx context.Context, s runtime.Spec) (runtime.Instance, error) {
	if s.Image == "" {
		return r.local.Start(ctx, s)
	}
	c, err := r.containers(ctx)
	if err != nil {
		return nil, err
	}
	return c.Start(ctx, s)
}

// Limits says whether host processes' limits are enforced (limiter):
// only they can lack them, containers are capped by the engine.
func (r *runtimes) Limits() (bool, string) { return r.local.Limits() }

// ImageID resolves an image reference with the engine (see
// containers.Runtime.ImageID).
func (r *runtimes) ImageID(ctx context.Context, ref string) (string, error) {
	c, err := r.containers(ctx)
	if err != nil {
		return "", err
	}
	return c.ImageID(ctx, ref)
}

// containers connects to Docker on first use.
func (r *runtimes) containers(ctx context.Context) (*containers.Runtime, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ctr != nil {
		return r.ctr, nil
	}
	if r.closed {
		// A runtime made now would have nobody to stop its instances.
		return nil, errors.New("services with an image: the host is closing")
	}
	c, err := docker.Connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("services with an image run in Docker: %w", err)
	}
	cfg := r.cfg
	cfg.Client = c
	ctr, err := containers.New(ctx, cfg)
	if err != nil {
		c.Close()
		return nil, err
	}
	r.client, r.ctr = c, ctr
	return ctr, nil
}

// Close stops every instance of both runtimes.
func (r *runtimes) Close(ctx context.Context) error {
	r.mu.Lock()
	ctr, c := r.ctr, r.client
	r.closed = true
	r.mu.Unlock()
	var cerr error
	var wg sync.WaitGroup
	if ctr != nil {
		wg.Go(func() { cerr = ctr.Close(ctx) })
	}
	lerr := r.local.Close(ctx)
	wg.Wait()
	errs := []error{cerr, lerr}
	if c != nil {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}
