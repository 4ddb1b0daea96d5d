package source

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"

	"github.com/velocity-ci/velocity/internal/artifact"
)

// contentHash hashes a file's content as artifact.Digest does (the
// engine's cache keys). The git blob id is not computed here: only a
// commit's files need it, and for those git names it.
type contentHash struct {
	sha hash.Hash
}

func newContentHash() *contentHash { return &contentHash{sha: sha256.New()} }

func (h *contentHash) Write(p []byte) (int, error) { return h.sha.Write(p) }

// entry is the index entry of what was hashed, without stat data or blob
// id.
func (h *contentHash) entry() indexEntry {
	var e indexEntry
	h.sha.Sum(e.digest[:0])
	return e
}

// hashContent reads r to its end.
func hashContent(r io.Reader, buf []byte) (indexEntry, error) {
	h := newContentHash()
	if _, err := io.CopyBuffer(h, struct{ io.Reader }{r}, buf); err != nil {
		return indexEntry{}, err
	}
	return h.entry(), nil
}

// digestOf names a SHA-256 sum as artifact does.
func digestOf(sum [sha256.Size]byte) artifact.Digest {
	return artifact.Digest("sha256:" + hex.EncodeToString(sum[:]))
}
