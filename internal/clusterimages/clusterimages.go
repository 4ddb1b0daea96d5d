// Package clusterimages makes the images Velocity built pullable by a
// Kubernetes cluster. A build action's image lives in the Docker Engine
// of the machine that built it, which a cluster's nodes do not share: it
// reaches them through Velocity's own registry, by digest, with a
// credential the pod's pull secret carries. Every other image name is
// left as written, for the cluster to pull as it would any image.
package clusterimages

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/velocity-ci/velocity/internal/imagebuild"
	"github.com/velocity-ci/velocity/internal/kube"
	"github.com/velocity-ci/velocity/internal/registry"
)

// ClusterRepo prefixes the repositories images are pushed to for the
// cluster: velocity-cluster/NAME:ID.
const ClusterRepo = "velocity-cluster"

// BuiltLabel marks the images Velocity built (a build action's label
// naming the run): only they are pushed for a cluster.
const BuiltLabel = "velocity.run"

// Publisher answers how a pod gets an image. Safe for concurrent use.
type Publisher struct {
	// Storage opens Velocity's registry's storage: where pushed images
	// are found.
	Storage func() (*registry.Storage, error)
	// Registry opens the registry's endpoint the cluster pulls from
	// (the node's loopback registry: the cluster's nodes must be this
	// machine, as for the workspace's hostPath volume).
	Registry func(ctx context.Context) (registry.Endpoint, error)
	// Docker connects to the engine holding the built images; nil, or an
	// error, leaves names as written and finds IDs only in the registry.
	Docker func(ctx context.Context) (*client.Client, error)

	mu sync.Mutex // one push at a time: concurrent pods share it
}

// Pullable returns how a pod gets image: an image ID ("sha256:…", what a
// release of a build action records) or a name of an image Velocity
// built becomes a reference into Velocity's registry by manifest digest,
// pushed there first if it is not yet; any other name is returned as
// it is.
func (p *Publisher) Pullable(ctx context.Context, image string) (kube.Pull, error) {
	id, isID := imageID(image)
	if !isID {
		built, ok, err := p.built(ctx, image)
		if err != nil {
			return kube.Pull{}, err
		}
		if !ok {
			return kube.Pull{Ref: image}, nil
		}
		id = built
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	st, err := p.Storage()
	if err != nil {
		return kube.Pull{}, fmt.Errorf("image %s for the cluster: Velocity's registry: %w", image, err)
	}
	loc, found, err := st.FindImage(id)
	if err != nil {
		return kube.Pull{}, fmt.Errorf("image %s: %w", image, err)
	}
	if !found {
		if err := p.push(ctx, id.String()); err != nil {
			return kube.Pull{}, fmt.Errorf("image %s for the cluster: %w", image, err)
		}
		if loc, found, err = st.FindImage(id); err != nil || !found {
			return kube.Pull{}, fmt.Errorf("image %s for the cluster: pushed, but not in the registry (%v)", image, err)
		}
	}
	ep, err := p.Registry(ctx)
	if err != nil {
		return kube.Pull{}, fmt.Errorf("image %s for the cluster: Velocity's registry: %w", image, err)
	}
	// The pods' secret holds the pull-only password: whoever reads
	// secrets in the namespace can pull, not push.
	return kube.Pull{
		Ref:      ep.Host + "/" + loc.Repo + "@" + loc.Manifest.String(),
		Registry: ep.Host, Username: ep.Username, Password: ep.PullPassword,
	}, nil
}

// imageID reads an image ID.
func imageID(s string) (registry.Digest, bool) {
	if !strings.HasPrefix(s, "sha256:") {
		return registry.Digest{}, false
	}
	d, err := registry.ParseDigest(s)
	return d, err == nil
}

// built returns the ID of the image name names in the Docker Engine, if
// Velocity built it there.
func (p *Publisher) built(ctx context.Context, name string) (registry.Digest, bool, error) {
	if p.Docker == nil {
		return registry.Digest{}, false, nil
	}
	c, err := p.Docker(ctx)
	if err != nil {
		// No engine: nothing here was built by Velocity.
		return registry.Digest{}, false, nil
	}
	defer c.Close()
	res, err := c.ImageInspect(ctx, name)
	switch {
	case cerrdefs.IsNotFound(err):
		return registry.Digest{}, false, nil
	case err != nil:
		return registry.Digest{}, false, fmt.Errorf("image %s: %w", name, err)
	case res.Config == nil || res.Config.Labels[BuiltLabel] == "":
		return registry.Digest{}, false, nil
	}
	id, ok := imageID(res.ID)
	return id, ok, nil
}

// push pushes image id from the Docker Engine to Velocity's registry
// under the names it has there.
func (p *Publisher) push(ctx context.Context, id string) error {
	if p.Docker == nil {
		return errors.New("it is not in Velocity's registry and no Docker Engine holds it")
	}
	c, err := p.Docker(ctx)
	if err != nil {
		return fmt.Errorf("it is not in Velocity's registry and the Docker Engine cannot be reached: %w", err)
	}
	defer c.Close()
	res, err := c.ImageInspect(ctx, id)
	if cerrdefs.IsNotFound(err) {
		return errors.New("it is neither in Velocity's registry nor in the Docker Engine (removed since it was built?)")
	}
	if err != nil {
		return err
	}
	ep, err := p.Registry(ctx)
	if err != nil {
		return fmt.Errorf("Velocity's registry: %w", err)
	}
	// Under a repository of the cluster's, tagged with the image's ID:
	// the tags users push (app:latest) do not move.
	repo := "image"
	for _, t := range res.RepoTags {
		if !hasHost(t) {
			repo, _, _ = strings.Cut(t, ":")
			break
		}
	}
	tag := ClusterRepo + "/" + repo + ":" + strings.TrimPrefix(id, "sha256:")[:12]
	_, err = imagebuild.Push(ctx, c, imagebuild.Image{ID: id, Tags: []string{tag}}, ep, io.Discard)
	return err
}

// hasHost reports whether a name starts with a registry host, as Docker
// reads names: a first component with a dot or a colon, or localhost.
func hasHost(name string) bool {
	first, _, ok := strings.Cut(name, "/")
	return ok && (strings.ContainsAny(first, ".:") || first == "localhost")
}
