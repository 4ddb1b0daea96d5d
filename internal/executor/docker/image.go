package docker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// image is what a step needs to know of its image: the names of the
// variables its config sets, which the init script removes again.
type image struct {
	once sync.Once
	env  []string
	err  error
}

// image returns what the executor knows of ref, pulling it first when the
// engine lacks it. The first step to name an image inspects (and pulls)
// it; the steps naming it at the same time wait for that one.
func (e *Executor) image(ctx context.Context, ref string) ([]string, error) {
	e.mu.Lock()
	im := e.images[ref]
	if im == nil {
		im = &image{}
		e.images[ref] = im
	}
	e.mu.Unlock()
	im.once.Do(func() {
		im.env, im.err = e.inspect(ctx, ref)
		if im.err != nil {
			// A failed pull is tried again by the next step: the
			// network or the registry may be back.
			e.mu.Lock()
			delete(e.images, ref)
			e.mu.Unlock()
		}
	})
	if im.err != nil && ctx.Err() == nil && (errors.Is(im.err, context.Canceled) || errors.Is(im.err, context.DeadlineExceeded)) {
		// The step that pulled was cancelled, not this one: pull again.
		return e.image(ctx, ref)
	}
	return im.env, im.err
}

func (e *Executor) inspect(ctx context.Context, ref string) ([]string, error) {
	res, err := e.c.ImageInspect(ctx, ref)
	if cerrdefs.IsNotFound(err) {
		if err := e.pull(ctx, ref); err != nil {
			return nil, err
		}
		res, err = e.c.ImageInspect(ctx, ref)
	}
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", ref, err)
	}
	var names []string
	if res.Config != nil {
		for _, kv := range res.Config.Env {
			name, _, _ := strings.Cut(kv, "=")
			names = append(names, name)
		}
	}
	return names, nil
}

// pull has the engine fetch ref from its registry (Docker Hub, or the
// mirror the engine is configured with).
func (e *Executor) pull(ctx context.Context, ref string) error {
	e.opt.Logger.Info("pulling image", "image", ref)
	r, err := e.c.ImagePull(ctx, ref, client.ImagePullOptions{})
	if err != nil {
		return fmt.Errorf("image %s is not on the Docker Engine and cannot be pulled: %w", ref, err)
	}
	defer r.Close()
	if err := r.Wait(ctx); err != nil {
		return fmt.Errorf("image %s is not on the Docker Engine and cannot be pulled: %w", ref, err)
	}
	return nil
}
