package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/velocity-ci/velocity/internal/artifact"
	"github.com/velocity-ci/velocity/internal/store"
)

// defaultCacheSize bounds the blob store when nothing else is said.
const defaultCacheSize = 10 << 30

// cacheLimit parses --cache-size (or $VELOCITY_CACHE_SIZE).
func (a *app) cacheLimit(flag string) (int64, error) {
	s := flag
	if s == "" {
		s = a.getenv("VELOCITY_CACHE_SIZE")
	}
	if s == "" {
		return defaultCacheSize, nil
	}
	n, err := parseSize(s)
	if err != nil {
		return 0, usageError("--cache-size: %v", err)
	}
	return n, nil
}

// parseSize reads sizes such as 500MB, 10GB, 1.5GiB or a byte count.
func parseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{
		{"TIB", 1 << 40}, {"GIB", 1 << 30}, {"MIB", 1 << 20}, {"KIB", 1 << 10},
		{"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3},
		{"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1},
	} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("%q is not a size (use e.g. 500MB, 10GB)", s)
	}
	return int64(f * float64(mult)), nil
}

// evict keeps the blob store within its bound after a run; the blobs the
// run just used are the most recently used, so they stay longest. The files
// of journaled releases a rollback can return to are never evicted: a
// rollback that finds its release gone is exactly the moment a user can
// least afford it.
func (a *app) evict(ctx context.Context, deployments store.Deployments, blobs *artifact.Blobs, limit int64) {
	pinned, err := releaseBlobs(ctx, deployments, rollbackDepth)
	if err != nil {
		// Without the list nothing can be evicted safely; the store may
		// grow past its bound until the journal reads again.
		a.log.Warn("cache eviction skipped: reading the deployment journal", "err", err)
		return
	}
	removed, freed, err := blobs.Evict(limit, func(d artifact.Digest) bool { return pinned[string(d)] })
	if err != nil {
		a.log.Warn("cache eviction failed", "err", err)
		return
	}
	if removed > 0 {
		a.log.Debug("cache evicted", "blobs", removed, "bytes", freed)
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
