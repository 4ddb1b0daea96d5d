package imagebuild

import (
	"strings"
	"testing"
)

// .dockerignore follows the docker CLI: patterns from the context root,
// a directory takes what is beneath it, "**" any depth, the last
// matching line decides.
func TestDockerignore(t *testing.T) {
	ig, err := parseIgnore(strings.NewReader(`
# comment
*.log
/build
**/node_modules
docs/**/*.tmp
!keep.log
vendor
!vendor/modules.txt
*/secret
`))
	if err != nil {
		t.Fatal(err)
	}
	for rel, want := range map[string]bool{
		"a.log":                  true,
		"sub/a.log":              false, // *.log is at the root only
		"keep.log":               false,
		"build":                  true,
		"build/x/y.o":            true,
		"src/build":              false,
		"node_modules/x.js":      true,
		"web/app/node_modules/x": true,
		"docs/a/b/c.tmp":         true,
		"docs/c.tmp":             true,
		"docs/c.md":              false,
		"vendor/a/b.go":          true,
		"vendor/modules.txt":     false,
		"app/secret":             true,
		"app/secret/key":         true,
		"secret":                 false,
		"main.go":                false,
	} {
		if got := ig.excluded(rel); got != want {
			t.Errorf("excluded(%q) = %v, want %v", rel, got, want)
		}
	}
	if !ig.mayInclude("vendor") || ig.mayInclude("build") {
		t.Error("mayInclude: vendor holds a file taken back, build none")
	}
	if _, err := parseIgnore(strings.NewReader("[a-\n")); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("bad pattern: %v", err)
	}
}
