package cli

import (
	"fmt"
	"strings"
	"testing"
)

func TestPrintErrorsShowsTheFirstHundred(t *testing.T) {
	for _, n := range []int{0, 1, maxShownErrors, maxShownErrors + 1, 2621} {
		lines := make([]string, n)
		for i := range lines {
			lines[i] = fmt.Sprintf("velocity.yml:%d:1: problem", i+1)
		}
		var b strings.Builder
		printErrors(&b, lines)
		out := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
		if n == 0 {
			if b.Len() != 0 {
				t.Errorf("no errors printed %q", b.String())
			}
			continue
		}
		shown := min(n, maxShownErrors)
		if out[0] != lines[0] || out[shown-1] != lines[shown-1] {
			t.Errorf("%d errors: first or last shown line wrong: %q", n, out)
		}
		switch {
		case n <= maxShownErrors && len(out) != n:
			t.Errorf("%d errors printed as %d lines", n, len(out))
		case n > maxShownErrors && (len(out) != maxShownErrors+1 || !strings.Contains(out[maxShownErrors], fmt.Sprintf("and %d more", n-maxShownErrors))):
			t.Errorf("%d errors: %d lines, last %q", n, len(out), out[len(out)-1])
		}
	}
}
