package home

import (
	"context"
	"log/slog"

	"github.com/velocity-ci/velocity/internal/artifact"
	"github.com/velocity-ci/velocity/internal/store"
)

// evict keeps the blob store within its bound after a run; the blobs the
// run just used are the most recently used, so they stay longest. The files
// of journaled releases a rollback can return to are never evicted: a
// rollback that finds its release gone is exactly the moment a user can
// least afford it.
func evict(ctx context.Context, log *slog.Logger, deployments store.Deployments, blobs *artifact.Blobs, limit int64) {
	pinned, err := releaseBlobs(ctx, deployments, rollbackDepth)
	if err != nil {
		// Without the list nothing can be evicted safely; the store may
		// grow past its bound until the journal reads again.
		log.Warn("cache eviction skipped: reading the deployment journal", "err", err)
		return
	}
	removed, freed, err := blobs.Evict(limit, func(d artifact.Digest) bool { return pinned[string(d)] })
	if err != nil {
		log.Warn("cache eviction failed", "err", err)
		return
	}
	if removed > 0 {
		log.Debug("cache evicted", "blobs", removed, "bytes", freed)
	}
}

// rollbackDepth is how many releases of each service and environment,
// newest first, stay restorable.
const rollbackDepth = 5

// releaseBlobs returns the digests of the files of the newest depth
// releases that went live for every service that is live somewhere.
func releaseBlobs(ctx context.Context, deployments store.Deployments, depth int) (map[string]bool, error) {
	live, err := deployments.LiveDeployments(ctx)
	if err != nil {
		return nil, err
	}
	pinned := map[string]bool{}
	for _, l := range live {
		list, err := deployments.Deployments(ctx, l.Environment, l.Service)
		if err != nil {
			return nil, err
		}
		kept := 0
		for _, d := range list {
			if kept == depth {
				break
			}
			switch d.Status {
			case store.Live, store.Superseded, store.RolledBack:
			default:
				continue // never served: not a rollback target
			}
			kept++
			for _, f := range d.Files {
				if f.Digest != "" {
					pinned[f.Digest] = true
				}
			}
		}
	}
	return pinned, nil
}
