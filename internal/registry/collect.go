package registry

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DefaultGrace is how young content must be to survive a collection
// whatever references it: a push uploads its blobs before the manifest
// that references them, and a build may tag its image a while after.
const DefaultGrace = time.Hour

// Collection is what a collection keeps besides what tags reach.
type Collection struct {
	// Keep reports whether manifest digest of repository repo must stay
	// though no tag names it (the image of a live release, of a recent
	// run). It is asked with the manifest's digest and with its config's
	// (an engine's image ID). nil keeps nothing more.
	Keep func(repo, digest string) bool
	// Grace is how young a manifest, blob or upload must be to stay
	// anyway; 0 is DefaultGrace.
	Grace time.Duration
	// Now is the time the grace period counts back from; zero is now.
	Now time.Time
}

// Collected is what a collection removed.
type Collected struct {
	Manifests int   `json:"manifests"`
	Blobs     int   `json:"blobs"`
	Bytes     int64 `json:"bytes"`
	Uploads   int   `json:"uploads"`
}

// Collect removes from every repository the manifests no tag names,
// Keep does not keep, no kept index lists and whose subject (the image
// a signature or an SBOM is about) is gone, once older than the grace
// period; then the blobs no remaining manifest of their repository
// references, the content no repository holds, and uploads untouched
// for the grace period.
//
// Pushes may go on meanwhile, in this process or another: what a push
// adds is younger than the grace period, and a blob a client asks
// about (to skip uploading it) has its age reset.
func (s *Storage) Collect(ctx context.Context, c Collection) (Collected, error) {
	var out Collected
	grace := c.Grace
	if grace <= 0 {
		grace = DefaultGrace
	}
	now := c.Now
	if now.IsZero() {
		now = time.Now()
	}
	cutoff := now.Add(-grace)
	repos, err := s.Repositories()
	if err != nil {
		return out, err
	}
	for _, name := range repos {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		n, err := s.collectRepo(name, c.Keep, cutoff)
		out.Manifests += n
		if err != nil {
			return out, err
		}
	}
	blobs, bytes, err := s.collectBlobs(cutoff)
	out.Blobs, out.Bytes = blobs, bytes
	if err != nil {
		return out, err
	}
	out.Uploads, err = s.collectUploads(cutoff)
	return out, err
}

// kept reports whether Keep keeps manifest d (m): by its digest, or by
// its config's, which is the image ID a Docker Engine knows the image by
// (what a release records).
func kept(keep func(repo, digest string) bool, repo string, d Digest, m *manifest) bool {
	if keep == nil {
		return false
	}
	return keep(repo, d.String()) || m.Config != nil && keep(repo, m.Config.Digest)
}

// collectRepo collects repository name's manifests and blob links and
// returns how many manifests it removed.
func (s *Storage) collectRepo(name string, keep func(repo, digest string) bool, cutoff time.Time) (int, error) {
	digests, err := s.manifests(name)
	if err != nil {
		return 0, err
	}
	parsed := map[Digest]*manifest{}
	live := map[Digest]bool{}
	for _, d := range digests {
		content, mt, err := s.manifest(name, d)
		if err != nil {
			continue
		}
		m, err := parseManifest(mt, content)
		if err != nil {
			// Stored, so it was valid once: keep what cannot be read
			// rather than guess what it references.
			live[d] = true
			continue
		}
		parsed[d] = m
		if kept(keep, name, d, m) || !olderThan(s.manifestLink(name, d), cutoff) {
			live[d] = true
		}
	}
	tags, err := s.tags(name)
	if err != nil && !errors.Is(err, errNameUnknown) {
		return 0, err
	}
	for _, t := range tags {
		if d, err := s.resolve(name, t); err == nil {
			live[d] = true
		}
	}
	// Reach from the live ones: what an index lists, what refers to a
	// live subject; until nothing more is reached.
	for changed := true; changed; {
		changed = false
		for d, m := range parsed {
			if live[d] {
				for _, c := range m.children {
					if !live[c] {
						live[c], changed = true, true
					}
				}
			} else if !m.subject.IsZero() && live[m.subject] {
				live[d], changed = true, true
			}
		}
	}
	removed := 0
	used := map[Digest]bool{}
	for d, m := range parsed {
		if !live[d] {
			if err := os.Remove(s.manifestLink(name, d)); err == nil {
				removed++
			}
			continue
		}
		for _, b := range m.blobs {
			used[b] = true
		}
	}
	links, err := s.blobs(name)
	if err != nil {
		return removed, err
	}
	for _, b := range links {
		if !used[b] && olderThan(s.blobLink(name, b), cutoff) {
			os.Remove(s.blobLink(name, b))
		}
	}
	s.pruneRepo(name)
	return removed, nil
}

// pruneRepo removes the directories of repository name left empty, and
// the repository itself when nothing is left of it.
func (s *Storage) pruneRepo(name string) {
	dir := s.repoDir(name)
	for _, sub := range []string{"_blobs/sha256", "_blobs/sha512", "_blobs", "_manifests/sha256", "_manifests/sha512", "_manifests", "_tags"} {
		os.Remove(filepath.Join(dir, sub)) // fails, as it should, unless empty
	}
	root := filepath.Join(s.dir, "repos")
	for d := dir; d != root && strings.HasPrefix(d, root); d = filepath.Dir(d) {
		if os.Remove(d) != nil {
			break
		}
	}
}

// collectBlobs removes the content no repository links to, manifest or
// blob, once older than cutoff.
func (s *Storage) collectBlobs(cutoff time.Time) (int, int64, error) {
	linked := map[Digest]bool{}
	repos, err := s.Repositories()
	if err != nil {
		return 0, 0, err
	}
	for _, name := range repos {
		for _, list := range []func(string) ([]Digest, error){s.manifests, s.blobs} {
			ds, err := list(name)
			if err != nil {
				return 0, 0, err
			}
			for _, d := range ds {
				linked[d] = true
			}
		}
	}
	n, bytes := 0, int64(0)
	root := filepath.Join(s.dir, "blobs")
	err = filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		d, perr := ParseDigest(filepath.Base(filepath.Dir(filepath.Dir(p))) + ":" + e.Name())
		if perr != nil || linked[d] {
			return nil
		}
		fi, err := e.Info()
		if err != nil || !fi.ModTime().Before(cutoff) {
			return nil
		}
		if os.Remove(p) == nil {
			n++
			bytes += fi.Size()
		}
		return nil
	})
	if err != nil {
		return n, bytes, fmt.Errorf("registry collection: %w", err)
	}
	return n, bytes, nil
}

// collectUploads removes the uploads untouched since cutoff.
func (s *Storage) collectUploads(cutoff time.Time) (int, error) {
	entries, err := os.ReadDir(filepath.Join(s.dir, "uploads"))
	if err != nil {
		return 0, fmt.Errorf("registry collection: %w", err)
	}
	n := 0
	for _, e := range entries {
		dir := s.uploadDir(e.Name())
		if olderThan(filepath.Join(dir, "data"), cutoff) && olderThan(dir, cutoff) {
			if os.RemoveAll(dir) == nil {
				s.forget(e.Name())
				n++
			}
		}
	}
	return n, nil
}

// olderThan reports whether p was last modified before t; a file gone
// is old.
func olderThan(p string, t time.Time) bool {
	fi, err := os.Stat(p)
	return err != nil || fi.ModTime().Before(t)
}
