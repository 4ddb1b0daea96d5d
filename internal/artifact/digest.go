package artifact

import (
	"encoding/hex"
	"fmt"
	"hash"
	"path/filepath"
	"strings"
)

// Digest names content: "sha256:" followed by 64 lowercase hex digits.
// Values come from the store or from Parse; the store checks a Digest again
// before turning it into a file path, because a Digest is just a string
// and could have been converted from anything.
type Digest string

const (
	digestPrefix = "sha256:"
	hexLen       = 64
)

// Parse checks that s is a well-formed digest.
func Parse(s string) (Digest, error) {
	d := Digest(s)
	if err := d.Validate(); err != nil {
		return "", err
	}
	return d, nil
}

// Validate reports whether d is well formed. Only lowercase hex is
// accepted, so that one content has exactly one name (and one file).
func (d Digest) Validate() error {
	h, ok := strings.CutPrefix(string(d), digestPrefix)
	if !ok || len(h) != hexLen {
		return fmt.Errorf("digest %q: want %s followed by %d hex digits", string(d), digestPrefix, hexLen)
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return fmt.Errorf("digest %q: %q is not a lowercase hex digit", string(d), c)
		}
	}
	return nil
}

// Hex is the digest without its algorithm prefix.
func (d Digest) Hex() string { return strings.TrimPrefix(string(d), digestPrefix) }

func (d Digest) String() string { return string(d) }

// sumDigest is the digest of what h has hashed.
func sumDigest(h hash.Hash) Digest {
	return Digest(digestPrefix + hex.EncodeToString(h.Sum(nil)))
}

// blobPath is where d lives under the store directory dir. Blobs are spread
// over 256 subdirectories so that no directory grows huge.
func blobPath(dir string, d Digest) (string, error) {
	if err := d.Validate(); err != nil {
		return "", err
	}
	h := d.Hex()
	return filepath.Join(dir, "sha256", h[:2], h), nil
}
