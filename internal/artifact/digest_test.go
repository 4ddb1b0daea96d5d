package artifact_test

import (
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/artifact"
)

func TestParse(t *testing.T) {
	good := "sha256:" + strings.Repeat("0123456789abcdef", 4)
	if d, err := artifact.Parse(good); err != nil || string(d) != good {
		t.Fatalf("Parse(%q) = %q, %v", good, d, err)
	}
	for _, bad := range []string{
		"",
		strings.Repeat("ab", 32),             // no prefix
		"sha512:" + strings.Repeat("ab", 32), // other algorithm
		"sha256:" + strings.Repeat("ab", 31), // short
		"sha256:" + strings.Repeat("ab", 33), // long
		"sha256:" + strings.Repeat("AB", 32), // uppercase: a second name for the same content
		"sha256:../../../../etc/passwd" + strings.Repeat("a", 64-22), // a path
		"sha256:" + strings.Repeat("ab", 31) + "/x",
	} {
		if _, err := artifact.Parse(bad); err == nil {
			t.Errorf("Parse(%q) succeeded", bad)
		}
	}
}
