package source

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"

	"github.com/velocity-ci/velocity/internal/artifact"
)

// contentHash hashes a file's content the two ways it is named: SHA-256
// as artifact.Digest (the engine's cache keys) and as a git blob id (what
// `git ls-tree` lists), so that one read serves both.
type contentHash struct {
	sha  hash.Hash
	blob hash.Hash
	size int64 // the length announced in the blob header
	n    int64
}

func newContentHash(size int64) *contentHash {
	h := &contentHash{sha: sha256.New(), blob: sha1.New(), size: size}
	fmt.Fprintf(h.blob, "blob %d\x00", size)
	return h
}

func (h *contentHash) Write(p []byte) (int, error) {
	h.sha.Write(p)
	h.blob.Write(p)
	h.n += int64(len(p))
	return len(p), nil
}

// entry is the index entry of what was hashed, without stat data. The
// blob id is left out when the content was not as long as announced.
func (h *contentHash) entry() indexEntry {
	var e indexEntry
	h.sha.Sum(e.digest[:0])
	if h.n == h.size {
		e.oid = hex.EncodeToString(h.blob.Sum(nil))
	}
	return e
}

// hashContent reads r, whose length should be size, to its end.
func hashContent(r io.Reader, size int64, buf []byte) (indexEntry, error) {
	h := newContentHash(size)
	if _, err := io.CopyBuffer(h, struct{ io.Reader }{r}, buf); err != nil {
		return indexEntry{}, err
	}
	return h.entry(), nil
}

// digestOf names a SHA-256 sum as artifact does.
func digestOf(sum [sha256.Size]byte) artifact.Digest {
	return artifact.Digest("sha256:" + hex.EncodeToString(sum[:]))
}
