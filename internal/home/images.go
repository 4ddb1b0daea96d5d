package home

import (
	"context"
	"fmt"
	"io"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/velocity-ci/velocity/internal/docker"
	"github.com/velocity-ci/velocity/internal/engine"
	"github.com/velocity-ci/velocity/internal/imagebuild"
	"github.com/velocity-ci/velocity/internal/registry"
	"github.com/velocity-ci/velocity/internal/runs"
	"github.com/velocity-ci/velocity/internal/store"
)

// images gives runs with build actions the Docker Engine: connected when
// such a run begins, never for the others.
func (h *Home) images() runs.Images {
	return func(ctx context.Context) (engine.Images, func(), error) {
		c, err := docker.Connect(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("building images: %w", err)
		}
		return &dockerImages{c: c, registry: h.RunRegistry}, func() { c.Close() }, nil
	}
}

// dockerImages is engine.Images on a Docker Engine.
type dockerImages struct {
	c *client.Client
	// registry gives the registry pushes go to: the data directory's,
	// served on a loopback port from the first push on.
	registry func(ctx context.Context) (registry.Endpoint, error)
}

var _ engine.Images = (*dockerImages)(nil)

// Build implements engine.Images.
func (d *dockerImages) Build(ctx context.Context, b engine.ImageBuild) (store.Image, error) {
	img, err := imagebuild.Build(ctx, d.c, imagebuild.Request{
		Context: b.Context, Dockerfile: b.Dockerfile, Tags: b.Tags, Args: b.Args, Target: b.Target, Log: b.Log,
		Labels: map[string]string{
			"velocity.action": b.Stage + "/" + b.Action,
			"velocity.run":    fmt.Sprint(b.RunID),
		},
	})
	if err != nil {
		return store.Image{}, err
	}
	return store.Image{Stage: b.Stage, Action: b.Action, ID: img.ID, Tags: img.Tags}, nil
}

// Exists implements engine.Images.
func (d *dockerImages) Exists(ctx context.Context, id string) (bool, error) {
	_, err := d.c.ImageInspect(ctx, id)
	switch {
	case err == nil:
		return true, nil
	case cerrdefs.IsNotFound(err):
		return false, nil
	}
	return false, fmt.Errorf("inspect image %s: %w", id, err)
}

// Tag implements engine.Images.
func (d *dockerImages) Tag(ctx context.Context, id string, tags []string) error {
	for _, t := range tags {
		if _, err := d.c.ImageTag(ctx, client.ImageTagOptions{Source: id, Target: t}); err != nil {
			return fmt.Errorf("tag %s: %w", t, err)
		}
	}
	return nil
}

// endpoint is the run's registry, opened at the first push.
func (d *dockerImages) endpoint(ctx context.Context) (registry.Endpoint, error) {
	to, err := d.registry(ctx)
	if err != nil {
		return registry.Endpoint{}, fmt.Errorf("the data directory's registry: %w", err)
	}
	return to, nil
}

// CanPush implements engine.Images.
func (d *dockerImages) CanPush(ctx context.Context) error {
	_, err := d.endpoint(ctx)
	return err
}

// Push implements engine.Images.
func (d *dockerImages) Push(ctx context.Context, img store.Image, log io.Writer) ([]string, error) {
	to, err := d.endpoint(ctx)
	if err != nil {
		return nil, err
	}
	return imagebuild.Push(ctx, d.c, imagebuild.Image{ID: img.ID, Tags: img.Tags}, to, log)
}
