package artifact

import (
	"strings"
	"testing"
)

// TestPatternPruning checks what decides whether a directory is walked:
// a pattern says it could match beneath a directory only when it can.
func TestPatternPruning(t *testing.T) {
	tests := []struct {
		pattern, path string
		exact, deeper bool
	}{
		{"bin/app", "bin", false, true},
		{"bin/app", "bin/app", true, false},
		{"bin/app", "node_modules", false, false},
		{"bin/app", "bin/app/x", false, false}, // beneath a match: the walker's business
		{"**/*.go", "vendor", false, true},
		{"**/*.go", "vendor/x.go", true, true},
		{"src/**/testdata", "docs", false, false},
		{"src/**/testdata", "src/a/b", false, true},
		{"src/**/testdata", "src/a/testdata", true, true},
		{"**", "", true, true},
		{"dist/**", "dist", true, true},
		{"dist/**", "docs", false, false},
		{".", "", true, false},
	}
	for _, tt := range tests {
		p, err := compilePattern(tt.pattern)
		if err != nil {
			t.Fatal(err)
		}
		var segs []string
		if tt.path != "" {
			segs = strings.Split(tt.path, "/")
		}
		if exact, deeper := p.match(segs); exact != tt.exact || deeper != tt.deeper {
			t.Errorf("%q on %q: exact %v deeper %v, want %v %v", tt.pattern, tt.path, exact, deeper, tt.exact, tt.deeper)
		}
	}
}
