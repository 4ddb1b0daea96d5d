package releases

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/moby/moby/client"

	"github.com/velocity-ci/velocity/internal/docker"
	"github.com/velocity-ci/velocity/internal/kube"
	"github.com/velocity-ci/velocity/internal/netport"
	"github.com/velocity-ci/velocity/internal/runtime"
	containers "github.com/velocity-ci/velocity/internal/runtime/docker"
	pods "github.com/velocity-ci/velocity/internal/runtime/kube"
)

// runtimes is the host's runtime: an instance whose Spec names an image
// runs as a container, any other as a host process. Docker is connected
// to on the first instance with an image, so that a host whose services
// have none never needs (or waits for) a Docker Engine; a failed
// connection is not kept, the next deploy tries again. With a cluster
// (HostConfig.Kubernetes) instances with an image run as its pods
// instead, the cluster likewise reached on the first one.
type runtimes struct {
	local *runtime.Local
	cfg   containers.Config // without Client until connected
	kube  *Kubernetes
	log   *slog.Logger

	mu     sync.Mutex
	client *client.Client
	ctr    *containers.Runtime
	pods   *pods.Runtime
	closed bool // by Close: no connection is made after it
}

var (
	_ runtime.Runtime = (*runtimes)(nil)
	_ limiter         = (*runtimes)(nil)
)

func newRuntimes(local *runtime.Local, owner string, log *slog.Logger, ports *netport.Picker, portRange netport.Range, k *Kubernetes) *runtimes {
	return &runtimes{local: local, cfg: containers.Config{Owner: owner, Logger: log, Ports: ports, PortRange: portRange}, kube: k, log: log}
}

// Start implements runtime.Runtime.
func (r *runtimes) Start(ctx context.Context, s runtime.Spec) (runtime.Instance, error) {
	if s.Image == "" {
		return r.local.Start(ctx, s)
	}
	if r.kube != nil {
		p, err := r.cluster(ctx)
		if err != nil {
			return nil, err
		}
		return p.Start(ctx, s)
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
// containers.Runtime.ImageID). A cluster pulls images by name: with one
// the reference is kept as it is.
func (r *runtimes) ImageID(ctx context.Context, ref string) (string, error) {
	if r.kube != nil {
		return ref, nil
	}
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

// cluster connects to the cluster on first use.
func (r *runtimes) cluster(ctx context.Context) (*pods.Runtime, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pods != nil {
		return r.pods, nil
	}
	if r.closed {
		return nil, errors.New("services with an image: the host is closing")
	}
	c, err := kube.Load(r.kube.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("services with an image run in Kubernetes (namespace %s): %w", r.kube.Namespace, err)
	}
	p, err := pods.New(ctx, pods.Config{Client: c, Namespace: r.kube.Namespace, Images: r.kube.Images, Logger: r.log})
	if err != nil {
		return nil, fmt.Errorf("services with an image run in Kubernetes (namespace %s): %w", r.kube.Namespace, err)
	}
	r.pods = p
	return p, nil
}

// Close stops every instance of the runtimes.
func (r *runtimes) Close(ctx context.Context) error {
	r.mu.Lock()
	ctr, c, p := r.ctr, r.client, r.pods
	r.closed = true
	r.mu.Unlock()
	var cerr, perr error
	var wg sync.WaitGroup
	if ctr != nil {
		wg.Go(func() { cerr = ctr.Close(ctx) })
	}
	if p != nil {
		wg.Go(func() { perr = p.Close(ctx) })
	}
	lerr := r.local.Close(ctx)
	wg.Wait()
	errs := []error{cerr, perr, lerr}
	if c != nil {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}
