package scaffold

import (
	"testing"

	"github.com/goccy/go-yaml"
)

func TestScalarRoundTrips(t *testing.T) {
	for _, s := range []string{
		"", "plain", "go test ./...", "true", "False", "null", "~", "1", "1.5", "0x1f", "1e3",
		"a: b", "a #b", "a#b", "- x", "[x]", "{x}", "*x", "&x", "!x", "%x", "@x", "`x", "|", ">",
		"? x", " lead", "trail ", "it's", `say "hi"`, `echo "$X: y" | tr a b`, "tab\there",
		"back`quote", "line\nbreak", "x:", "'q'",
	} {
		var v map[string]any
		text := "k: " + scalar(s) + "\n"
		if err := yaml.Unmarshal([]byte(text), &v); err != nil {
			t.Errorf("%q → %q: %v", s, text, err)
			continue
		}
		if got, ok := v["k"].(string); !ok || got != s {
			t.Errorf("%q → %q reads back as %#v", s, text, v["k"])
		}
	}
}

func TestScalarKeepsCommandsPlain(t *testing.T) {
	for _, s := range []string{"go test ./...", "npm ci --no-audit --no-fund", "make test"} {
		if got := scalar(s); got != s {
			t.Errorf("scalar(%q) = %q, want it plain", s, got)
		}
	}
}
