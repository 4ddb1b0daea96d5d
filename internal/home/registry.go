package home

import (
	"context"
	"path/filepath"
	"sync"

	"github.com/velocity-ci/velocity/internal/images"
	"github.com/velocity-ci/velocity/internal/registry"
	"github.com/velocity-ci/velocity/internal/releases"
)

// Limits of the registry on the network listener.
const (
	// registryRate and registryBurst are each token's requests to the
	// registry: a push or pull is a few requests per layer, all at
	// once, and a CI token pushes several images in parallel; the
	// limit is there to slow a runaway loop, not a busy pipeline.
	registryRate  = 500
	registryBurst = 5000
)

func (h *Home) registryDir() string { return filepath.Join(h.Dir, "registry") }

// registryStorage is the storage of the built-in container registry.
func (h *Home) registryStorage() (*registry.Storage, error) {
	return registry.Open(h.registryDir())
}

// Registry is the service over the built-in container registry's
// content. A collection keeps what tags name and the images releases run
// or may roll back to.
func (h *Home) Registry() (*images.Service, error) {
	st, err := h.registryStorage()
	if err != nil {
		return nil, err
	}
	kept := func(ctx context.Context) ([]string, error) { return releases.ImagesInUse(ctx, h.Store) }
	return &images.Service{Storage: st, Kept: kept, Log: h.cfg.Log}, nil
}

// RunRegistry is the registry the runs of this process push images to:
// the data directory's registry, served on a loopback port with a
// credential made for this process alone (see registry.OnDemand). The
// port opens at the first call, so a process whose runs push nothing
// opens none, and closes with the Home. Safe for concurrent use.
func (h *Home) RunRegistry(ctx context.Context) (registry.Endpoint, error) {
	r := &h.runRegistry
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.od == nil {
		st, err := h.registryStorage()
		if err != nil {
			return registry.Endpoint{}, err
		}
		r.od = &registry.OnDemand{Storage: st, Log: h.cfg.Log}
	}
	return r.od.Endpoint(ctx)
}

// runRegistry is the registry served to a process's runs, made at the
// first push.
type runRegistry struct {
	mu sync.Mutex
	od *registry.OnDemand
}

func (h *Home) closeRunRegistry() {
	r := &h.runRegistry
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.od != nil {
		r.od.Close()
	}
}
