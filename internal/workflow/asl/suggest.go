package asl

import (
	"fmt"
	"strings"
)

// didYouMean returns a message suffix naming the candidate closest to
// word, or "" when none is close enough to be a plausible typo. Ties go to
// the earlier candidate so the answer does not depend on map order.
func didYouMean(word string, candidates []string) string {
	// About one edit per three characters: "Nxet" finds "Next", "Foo"
	// finds nothing.
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
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and swaps of adjacent characters cost one each.
func editDistance(a, b string) int {
	s, t := []rune(a), []rune(b)
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
