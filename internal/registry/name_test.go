package registry_test

import (
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/registry"
)

// Names and tags as the distribution specification writes them; a name
// or tag accepted wrongly becomes a path on disk and a URL segment.
func TestValidNameAndTag(t *testing.T) {
	names := map[string]bool{
		"app": true, "project/app": true, "a/b/c": true, "my.app": true, "my_app": true,
		"my__app": true, "my---app": true, "a1/2b": true, strings.Repeat("a", 255): true,
		"": false, "App": false, "app/": false, "/app": false, "a//b": false, ".app": false,
		"app.": false, "my___app": false, "my.-app": false, "my..app": false, "-app": false,
		"app-": false, "a b": false, strings.Repeat("a", 256): false, "ap$p": false,
	}
	for name, want := range names {
		if got := registry.ValidName(name); got != want {
			t.Errorf("ValidName(%.40q) = %v, want %v", name, got, want)
		}
	}
	tags := map[string]bool{
		"latest": true, "v1.2.3": true, "V1": true, "_x": true, "1": true, "a-b_c.D": true,
		"Z": true, "z9": true, strings.Repeat("t", 128): true,
		"": false, ".v1": false, "-v1": false, "v1/2": false, "v 1": false, "v:1": false,
		strings.Repeat("t", 129): false, "é": false, "v@1": false, "[": false, "`": false,
	}
	for tag, want := range tags {
		if got := registry.ValidTag(tag); got != want {
			t.Errorf("ValidTag(%.40q) = %v, want %v", tag, got, want)
		}
	}
}

// Only the canonical spelling of a supported digest names content.
func TestParseDigest(t *testing.T) {
	hex64 := strings.Repeat("0123456789abcdef", 4)
	hex128 := hex64 + hex64
	ok := []string{"sha256:" + hex64, "sha512:" + hex128, "sha256:" + strings.Repeat("f", 64)}
	for _, s := range ok {
		d, err := registry.ParseDigest(s)
		if err != nil || d.String() != s {
			t.Errorf("ParseDigest(%q) = %q, %v", s, d, err)
		}
	}
	bad := []string{
		"", "sha256", "sha256:", hex64, "sha256:" + hex64[:63], "sha256:" + hex64 + "0",
		"sha256:" + strings.ToUpper(hex64), "sha512:" + hex64, "md5:" + hex64,
		"sha256:" + hex64[:63] + "g", "sha256:" + hex64[:63] + "/", "SHA256:" + hex64,
		"sha256:" + hex64[:63] + ":",
	}
	for _, s := range bad {
		if _, err := registry.ParseDigest(s); err == nil {
			t.Errorf("ParseDigest(%q) accepted", s)
		}
	}
}
