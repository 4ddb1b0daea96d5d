// Package images is the use cases of the built-in container registry:
// listing what it holds and collecting what nothing needs any more,
// for every surface (velocity registry, velocity serve's periodic
// collection).
package images

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/velocity-ci/velocity/internal/registry"
)

// Kept returns the image references that must survive a collection
// though no tag names them: the images of live releases and of recent
// runs. A reference is "[HOST/]NAME@DIGEST", or a bare DIGEST kept in
// every repository; references of other forms keep nothing (a tag keeps
// itself). Called once per collection, from the collecting goroutine;
// an error stops the collection, which must not guess.
type Kept func(ctx context.Context) ([]string, error)

// Service lists and collects the registry's content.
type Service struct {
	Storage *registry.Storage
	// Kept may be nil: then tags alone keep manifests.
	Kept Kept
	// Grace is how young content stays whatever references it; 0 is
	// registry.DefaultGrace.
	Grace time.Duration
	Log   *slog.Logger
}

// Repository is one repository and its tags.
type Repository struct {
	Name string
	Tags []Tag
}

// Tag is a tag and the manifest digest it names.
type Tag struct {
	Name   string
	Digest string
}

// Repositories returns every repository with its tags, by name.
func (s *Service) Repositories(ctx context.Context) ([]Repository, error) {
	names, err := s.Storage.Repositories()
	if err != nil {
		return nil, err
	}
	out := make([]Repository, 0, len(names))
	for _, n := range names {
		tags, err := s.Storage.Tags(n)
		if err != nil {
			return nil, fmt.Errorf("registry repository %s: %w", n, err)
		}
		r := Repository{Name: n}
		for t, d := range tags {
			r.Tags = append(r.Tags, Tag{Name: t, Digest: d})
		}
		slices.SortFunc(r.Tags, func(a, b Tag) int { return strings.Compare(a.Name, b.Name) })
		out = append(out, r)
	}
	return out, nil
}

// Collect removes the manifests no tag names and Kept does not keep,
// then the blobs and uploads nothing needs (see registry.Storage.Collect).
func (s *Service) Collect(ctx context.Context) (registry.Collected, error) {
	keep, err := s.keep(ctx)
	if err != nil {
		return registry.Collected{}, fmt.Errorf("registry collection: what to keep: %w", err)
	}
	got, err := s.Storage.Collect(ctx, registry.Collection{Keep: keep, Grace: s.Grace})
	if err != nil {
		return got, err
	}
	return got, nil
}

// CollectEvery collects every interval until ctx ends, logging what
// each collection removed or why it failed.
func (s *Service) CollectEvery(ctx context.Context, interval time.Duration) {
	log := s.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		got, err := s.Collect(ctx)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("registry collection failed", "err", err)
			}
			continue
		}
		if got != (registry.Collected{}) {
			log.Info("registry collected", "manifests", got.Manifests, "blobs", got.Blobs, "bytes", got.Bytes, "uploads", got.Uploads)
		}
	}
}

// keep turns Kept's references into the collection's question.
func (s *Service) keep(ctx context.Context) (func(repo, digest string) bool, error) {
	if s.Kept == nil {
		return nil, nil
	}
	refs, err := s.Kept(ctx)
	if err != nil {
		return nil, err
	}
	anywhere := map[string]bool{}
	in := map[[2]string]bool{}
	for _, ref := range refs {
		name, digest, ok := strings.Cut(ref, "@")
		if !ok {
			if _, err := registry.ParseDigest(ref); err == nil {
				anywhere[ref] = true
			}
			continue
		}
		in[[2]string{repoOf(name), digest}] = true
	}
	return func(repo, digest string) bool { return anywhere[digest] || in[[2]string{repo, digest}] }, nil
}

// repoOf is the repository of an image name, without its registry host
// ("127.0.0.1:5000/app" is app): a first component with a dot, a colon
// or named localhost is a host, as Docker reads names.
func repoOf(name string) string {
	first, rest, ok := strings.Cut(name, "/")
	if ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return rest
	}
	return name
}
