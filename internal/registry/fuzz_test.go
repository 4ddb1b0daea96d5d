package registry

import (
	"testing"
)

// FuzzParse feeds untrusted paths and manifests to the parsers: they
// must never panic, and what they accept must be what the rest of the
// package relies on (names valid, digests well formed).
func FuzzParse(f *testing.F) {
	f.Add("/v2/project/app/manifests/v1", MediaOCIManifest, []byte(`{"schemaVersion":2,"config":{"digest":"sha256:`+zeros(64)+`"},"layers":[]}`))
	f.Add("/v2/a/blobs/uploads/0123", MediaOCIIndex, []byte(`{"schemaVersion":2,"manifests":[{"digest":"sha512:`+zeros(128)+`"}]}`))
	f.Add("/v2/a/referrers/sha256:x", "", []byte(`{"schemaVersion":2,"subject":{}}`))
	f.Fuzz(func(t *testing.T, path, contentType string, content []byte) {
		if tg, ok := parsePath(path); ok && ValidName(tg.name) {
			if len(tg.name) > MaxNameLength {
				t.Fatalf("name of %d bytes accepted", len(tg.name))
			}
		}
		m, err := parseManifest(contentType, content)
		if err != nil {
			return
		}
		for _, d := range append(append(m.blobs, m.children...), m.subject) {
			if d.IsZero() {
				continue
			}
			if _, err := ParseDigest(d.String()); err != nil {
				t.Fatalf("accepted digest %q does not parse: %v", d, err)
			}
		}
	})
}

func zeros(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = '0'
	}
	return string(b)
}
