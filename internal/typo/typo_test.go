package typo

import "testing"

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"needs", "needs", 0},
		{"nedds", "needs", 1},
		{"tset", "test", 1}, // a swap counts once
		{"run", "", 3},
		{"", "run", 3},
		{"actons", "actions", 1},
		{"kitten", "sitting", 3},
		{"héllo", "hello", 1}, // runes, not bytes
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestDidYouMean(t *testing.T) {
	keys := []string{"allow_failure", "env", "name", "needs", "retry", "run", "timeout"}
	tests := []struct {
		word       string
		candidates []string
		want       string
	}{
		{"nedds", keys, ` (did you mean "needs"?)`},
		{"Needs", keys, ` (did you mean "needs"?)`},
		{"runn", keys, ` (did you mean "run"?)`},
		{"timout", keys, ` (did you mean "timeout"?)`},
		{"allowfailure", keys, ` (did you mean "allow_failure"?)`},
		{"outputs", keys, ""},
		{"x", keys, ""},
		{"tset", []string{"compile", "test", "package"}, ` (did you mean "test"?)`},
		// The exact word is never its own suggestion.
		{"test", []string{"test"}, ""},
		// Equally close candidates: the first one wins, for stable output.
		{"ab", []string{"ac", "ad"}, ` (did you mean "ac"?)`},
		{"anything", nil, ""},
	}
	for _, tt := range tests {
		if got := DidYouMean(tt.word, tt.candidates); got != tt.want {
			t.Errorf("DidYouMean(%q, %q) = %q, want %q", tt.word, tt.candidates, got, tt.want)
		}
	}
}
