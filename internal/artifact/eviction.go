package artifact

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// storedBlob is one blob as found on disk.
type storedBlob struct {
	digest Digest
	path   string
	size   int64
	used   time.Time
}

// list returns every blob in the store and their total size. Files whose
// names are not digests in the right shard are not blobs and are ignored
// (never deleted: the store does not own what it did not write).
func (b *Blobs) list() ([]storedBlob, int64, error) {
	shards, err := os.ReadDir(b.blobDir())
	if err != nil {
		return nil, 0, fmt.Errorf("blob store: %w", err)
	}
	var (
		blobs []storedBlob
		total int64
	)
	for _, shard := range shards {
		if !shard.IsDir() || len(shard.Name()) != 2 {
			continue
		}
		dir := filepath.Join(b.blobDir(), shard.Name())
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, 0, fmt.Errorf("blob store: %w", err)
		}
		for _, e := range entries {
			d, err := Parse(digestPrefix + e.Name())
			if err != nil || d.Hex()[:2] != shard.Name() || !e.Type().IsRegular() {
				continue
			}
			fi, err := e.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue // evicted by someone else while we listed
			}
			if err != nil {
				return nil, 0, fmt.Errorf("blob store: %w", err)
			}
			blobs = append(blobs, storedBlob{digest: d, path: filepath.Join(dir, e.Name()), size: fi.Size(), used: fi.ModTime()})
			total += fi.Size()
		}
	}
	return blobs, total, nil
}

// Size is the total size of the content in the store, in bytes.
func (b *Blobs) Size() (int64, error) {
	_, total, err := b.list()
	return total, err
}

// Evict deletes least recently used blobs (stored or opened longest ago)
// until the store holds at most limit bytes, never deleting a blob for
// which keep (if not nil) returns true. It stops early, without error, if
// only kept blobs are left. It also removes temporary files abandoned by
// writers that died.
//
// Evict may run while other goroutines or processes use the store: a blob
// used after Evict listed the store is spared, and a reader that already
// has a blob open keeps reading it after deletion.
func (b *Blobs) Evict(limit int64, keep func(Digest) bool) (removed int, freed int64, err error) {
	b.removeStaleTemps()
	blobs, total, err := b.list()
	if err != nil || total <= limit {
		return 0, 0, err
	}
	slices.SortFunc(blobs, func(x, y storedBlob) int {
		return cmp.Or(x.used.Compare(y.used), cmp.Compare(x.digest, y.digest))
	})
	for _, sb := range blobs {
		if total <= limit {
			break
		}
		if keep != nil && keep(sb.digest) {
			continue
		}
		fi, err := os.Lstat(sb.path)
		if errors.Is(err, fs.ErrNotExist) {
			total -= sb.size
			continue
		}
		if err != nil {
			return removed, freed, fmt.Errorf("blob store: %w", err)
		}
		if !fi.ModTime().Equal(sb.used) {
			continue // used since we listed: no longer the least recently used
		}
		if err := os.Remove(sb.path); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				total -= sb.size
				continue
			}
			return removed, freed, fmt.Errorf("blob store: evicting %s: %w", sb.digest, err)
		}
		removed++
		freed += sb.size
		total -= sb.size
	}
	return removed, freed, nil
}

// removeStaleTemps deletes temporary files old enough that no writer can
// still be using them. Failing to is harmless, so errors are ignored.
func (b *Blobs) removeStaleTemps() {
	entries, err := os.ReadDir(b.tempDir())
	if err != nil {
		return
	}
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > staleTemp {
			os.RemoveAll(filepath.Join(b.tempDir(), e.Name()))
		}
	}
}
