package e2e

import (
	"os"
	"strings"
	"testing"
)

// TestReadmeReferenceIsValid keeps the documented velocity.yml reference
// (docs/pipeline.md, linked from the README) true: it must pass
// `velocity validate`.
func TestReadmeReferenceIsValid(t *testing.T) {
	b, err := os.ReadFile("../docs/pipeline.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "# velocity.yml reference")
	if !ok {
		t.Fatal("docs/pipeline.md has no velocity.yml reference section")
	}
	_, rest, _ = strings.Cut(rest, "```yaml\n")
	yml, _, _ := strings.Cut(rest, "```")
	dir := project(t, map[string]string{"velocity.yml": yml})
	e := newEnv(t)
	if r := e.run(dir, "validate"); r.code != 0 {
		t.Errorf("docs/pipeline.md's reference does not validate:\n%s%s", r.stdout, r.stderr)
	}
}
