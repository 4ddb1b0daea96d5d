// Package typo suggests what a user probably meant when a name they wrote
// is not one of the names allowed there: the "did you mean" of every error
// about an unknown key, state, action or strategy.
package typo

import (
	"fmt"
	"strings"
)

// Closest returns the candidate closest to word, or "" when none is close
// enough to be a plausible typo. Ties go to the earlier candidate so the
// answer does not depend on map order.
func Closest(word string, candidates []string) string {
	// Allow about one edit per three characters: "nedds" finds "needs",
	// but "foo" does not find "run".
	limit := len(word)/3 + 1
	best, bestDist := "", limit+1
	lower := strings.ToLower(word)
	for _, c := range candidates {
		if c == word {
			continue
		}
		if d := editDistance(lower, strings.ToLower(c)); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// DidYouMean formats Closest's answer as a message suffix, "" if none.
func DidYouMean(word string, candidates []string) string {
	if s := Closest(word, candidates); s != "" {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	return ""
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and swaps of adjacent characters each cost one.
// Swaps count because "tset" for "test" is the most common typo of all.
func editDistance(a, b string) int {
	s, t := []rune(a), []rune(b)
	// Three rows suffice: the swap rule looks back two rows.
	prev2 := make([]int, len(t)+1)
	prev := make([]int, len(t)+1)
	cur := make([]int, len(t)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(s); i++ {
		cur[0] = i
		for j := 1; j <= len(t); j++ {
			cost := 1
			if s[i-1] == t[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && s[i-1] == t[j-2] && s[i-2] == t[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(t)]
}
