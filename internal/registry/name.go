package registry

import (
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
	"strings"
)

// Limits of names, from the distribution specification.
const (
	// MaxNameLength is the longest repository name: the specification's
	// 255 characters for a registry host and a name together, here given
	// to the name alone.
	MaxNameLength = 255
	// MaxTagLength is the longest tag.
	MaxTagLength = 128
)

// ValidName reports whether s is a repository name: path components of
// lowercase letters and digits, separated inside a component by one
// period, one or two underscores, or any number of hyphens, and joined
// by slashes ("project/app").
func ValidName(s string) bool {
	if s == "" || len(s) > MaxNameLength {
		return false
	}
	for c := range strings.SplitSeq(s, "/") {
		if !validComponent(c) {
			return false
		}
	}
	return true
}

// validComponent is [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*.
func validComponent(c string) bool {
	if c == "" {
		return false
	}
	i := 0
	for {
		start := i
		for i < len(c) && isLowerAlnum(c[i]) {
			i++
		}
		if i == start {
			return false // a separator at the start, at the end, or two kinds in a row
		}
		if i == len(c) {
			return true
		}
		switch {
		case c[i] == '.':
			i++
		case c[i] == '_':
			i++
			if i < len(c) && c[i] == '_' {
				i++
			}
		case c[i] == '-':
			for i < len(c) && c[i] == '-' {
				i++
			}
		default:
			return false
		}
	}
}

func isLowerAlnum(b byte) bool { return 'a' <= b && b <= 'z' || '0' <= b && b <= '9' }

// ValidTag reports whether s is a tag: [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}.
func ValidTag(s string) bool {
	if s == "" || len(s) > MaxTagLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		ok := isLowerAlnum(b) || 'A' <= b && b <= 'Z' || b == '_' || i > 0 && (b == '.' || b == '-')
		if !ok {
			return false
		}
	}
	return true
}

// Digest names content by its hash: "sha256:" followed by 64 lowercase
// hex digits, or "sha512:" and 128. Values come from ParseDigest or a
// hash, so a Digest is always safe to turn into a file name.
type Digest struct {
	alg string
	hex string
}

// ParseDigest checks that s is a digest of an algorithm the registry
// supports, in its one canonical spelling.
func ParseDigest(s string) (Digest, error) {
	alg, hx, ok := strings.Cut(s, ":")
	if !ok {
		return Digest{}, fmt.Errorf("digest %.80q: want ALGORITHM:HEX", s)
	}
	want := 0
	switch alg {
	case "sha256":
		want = 64
	case "sha512":
		want = 128
	default:
		return Digest{}, fmt.Errorf("digest %.80q: algorithm %.20q is not sha256 or sha512", s, alg)
	}
	if len(hx) != want {
		return Digest{}, fmt.Errorf("digest %.80q: %s takes %d hex digits", s, alg, want)
	}
	for i := 0; i < len(hx); i++ {
		if c := hx[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return Digest{}, fmt.Errorf("digest %.80q: %q is not a lowercase hex digit", s, c)
		}
	}
	return Digest{alg: alg, hex: hx}, nil
}

// String is the digest as the API spells it.
func (d Digest) String() string { return d.alg + ":" + d.hex }

// IsZero reports whether d is no digest.
func (d Digest) IsZero() bool { return d.alg == "" }

// newHash returns a hash of d's algorithm.
func (d Digest) newHash() hash.Hash {
	if d.alg == "sha512" {
		return sha512.New()
	}
	return sha256.New()
}

// sumOf is the digest of content hashed with alg's hash h.
func sumOf(alg string, h hash.Hash) Digest {
	return Digest{alg: alg, hex: fmt.Sprintf("%x", h.Sum(nil))}
}

// Sha256 is the sha256 digest of b.
func Sha256(b []byte) Digest {
	h := sha256.New()
	h.Write(b)
	return sumOf("sha256", h)
}
