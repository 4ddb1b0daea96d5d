package intrinsic

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestDocListsEveryFunction keeps the intrinsic functions table of
// docs/workflows.md ("### Intrinsic functions" under "## Field by
// field") true to the function table: one row per function this package
// implements, and none for a function it does not.
func TestDocListsEveryFunction(t *testing.T) {
	b, err := os.ReadFile("../../../docs/workflows.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Field by field\n")
	if !ok {
		t.Fatal(`docs/workflows.md has no "## Field by field" section`)
	}
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	_, table, ok := strings.Cut(section, "\n### Intrinsic functions\n")
	if !ok {
		t.Fatal(`docs/workflows.md has no "### Intrinsic functions" table under Field by field`)
	}
	if end := strings.Index(table, "\n### "); end >= 0 {
		table = table[:end]
	}
	row := regexp.MustCompile("(?m)^\\| `(States\\.[A-Za-z0-9]+)` \\| (yes|differs|no)\\b")
	var documented []string
	for _, m := range row.FindAllStringSubmatch(table, -1) {
		documented = append(documented, m[1])
	}
	for name := range functions {
		if !slices.Contains(documented, name) {
			t.Errorf("docs/workflows.md, ### Intrinsic functions: no row for %s", name)
		}
	}
	for _, name := range documented {
		if _, ok := functions[name]; !ok {
			t.Errorf("docs/workflows.md, ### Intrinsic functions: the row %s names no function this package implements", name)
		}
	}
}
