package artifact_test

import (
	"errors"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/artifact"
)

// globTree is a workspace with a bit of everything Match must get right.
func globTree(t *testing.T) string {
	root := t.TempDir()
	writeFiles(t, root,
		"go.mod", "",
		"main.go", "",
		"cmd/app/main.go", "",
		"cmd/app/main_test.go", "",
		"dist/app", "",
		"dist/.hidden", "",
		"dist/lib/x.so", "",
		"src/a/testdata/t1.txt", "",
		"src/b/c/testdata/t2.txt", "",
		"node_modules/m/index.js", "",
		".git/config", "",
		"sub/.git/HEAD", "",
		"sub/x.go", "",
	)
	symlink(t, "dist", filepath.Join(root, "link"))
	outside := t.TempDir()
	writeFiles(t, outside, "secret.go", "")
	symlink(t, outside, filepath.Join(root, "outside"))
	return root
}

func TestMatch(t *testing.T) {
	root := globTree(t)
	everything := []string{
		"cmd/app/main.go", "cmd/app/main_test.go", "dist/.hidden", "dist/app", "dist/lib/x.so",
		"go.mod", "link", "main.go", "node_modules/m/index.js", "outside",
		"src/a/testdata/t1.txt", "src/b/c/testdata/t2.txt", "sub/x.go",
	}
	dist := []string{"dist/.hidden", "dist/app", "dist/lib/x.so"}
	tests := []struct {
		name     string
		patterns []string
		want     []string
	}{
		{"one file", []string{"dist/app"}, []string{"dist/app"}},
		{"directory means everything under it", []string{"dist"}, dist},
		{"trailing slash", []string{"dist/"}, dist},
		{"** at the end", []string{"dist/**"}, dist},
		{"** at the start", []string{"**/*.go"}, []string{"cmd/app/main.go", "cmd/app/main_test.go", "main.go", "sub/x.go"}},
		{"** matches zero directories", []string{"**/go.mod"}, []string{"go.mod"}},
		{"** in the middle", []string{"cmd/**/main.go"}, []string{"cmd/app/main.go"}},
		{"** in the middle, directory match", []string{"src/**/testdata"}, []string{"src/a/testdata/t1.txt", "src/b/c/testdata/t2.txt"}},
		{"** twice", []string{"**/testdata/**"}, []string{"src/a/testdata/t1.txt", "src/b/c/testdata/t2.txt"}},
		{"repeated **", []string{"src/**/**/t2.txt"}, []string{"src/b/c/testdata/t2.txt"}},
		{"* stays in one segment", []string{"*.go"}, []string{"main.go"}},
		{"* matches a directory, and so its files", []string{"*/app"}, []string{"cmd/app/main.go", "cmd/app/main_test.go", "dist/app"}},
		{"character class", []string{"[g]o.mod", "[gx]*.mod"}, []string{"go.mod"}},
		{"?", []string{"cmd/ap?/main_test.go"}, []string{"cmd/app/main_test.go"}},
		{"leading ./", []string{"./go.mod"}, []string{"go.mod"}},
		{"everything", []string{"**"}, everything},
		{"dot", []string{"."}, everything},
		{"overlapping patterns list a file once", []string{"dist/app", "dist", "dist/**", "*/.hidden"}, dist},
		{"a symlink to a directory is a file", []string{"link"}, []string{"link"}},
		{"no patterns", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := artifact.Match(root, tt.patterns)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Match(%q)\n got %q\nwant %q", tt.patterns, got, tt.want)
			}
		})
	}
}

func TestMatchErrors(t *testing.T) {
	root := globTree(t)
	tests := []struct {
		patterns []string
		want     error
	}{
		{[]string{"bin/app"}, artifact.ErrNoMatch},
		{[]string{"dist/app", "bin/app", "*.rs"}, artifact.ErrNoMatch},
		{[]string{".git/config"}, artifact.ErrNoMatch},   // .git is never walked
		{[]string{"sub/.git/HEAD"}, artifact.ErrNoMatch}, // nor a nested one
		{[]string{"link/app"}, artifact.ErrNoMatch},      // symlinked directories are not followed
		{[]string{"outside/secret.go"}, artifact.ErrNoMatch},
		{[]string{"**/secret.go"}, artifact.ErrNoMatch},
		{[]string{"/etc/passwd"}, artifact.ErrUnsafePath},
		{[]string{"../x"}, artifact.ErrUnsafePath},
		{[]string{"dist/../../x"}, artifact.ErrUnsafePath},
		{[]string{"dist/.."}, artifact.ErrUnsafePath},
		{[]string{"dist/["}, path.ErrBadPattern},
		{[]string{""}, path.ErrBadPattern},
	}
	for _, tt := range tests {
		got, err := artifact.Match(root, tt.patterns)
		if !errors.Is(err, tt.want) {
			t.Errorf("Match(%q) = %q, %v; want %v", tt.patterns, got, err, tt.want)
		}
	}

	_, err := artifact.Match(root, []string{"dist/app", "bin/app", "*.rs"})
	var nm *artifact.NoMatchError
	if !errors.As(err, &nm) || !slices.Equal(nm.Patterns, []string{"bin/app", "*.rs"}) {
		t.Fatalf("error %v does not name the two patterns", err)
	}
	if msg := err.Error(); msg != `"bin/app", "*.rs" matched no file` {
		t.Errorf("message %q", msg)
	}
	if _, err := artifact.Match(filepath.Join(root, "nope"), []string{"**"}); err == nil || errors.Is(err, artifact.ErrNoMatch) {
		t.Errorf("missing root: %v", err)
	}
}

func TestMatchDoesNotWalkUnrelatedDirectories(t *testing.T) {
	root := globTree(t)
	// An unreadable directory breaks a walk that enters it; a pattern that
	// cannot match beneath it must not enter it. (Replace it by a file
	// named like a directory's child would not test anything.)
	bad := filepath.Join(root, "node_modules")
	if err := chmodUnreadable(t, bad); err != nil {
		t.Skip(err)
	}
	if got, err := artifact.Match(root, []string{"dist/app", "cmd/*/main.go"}); err != nil || len(got) != 2 {
		t.Errorf("Match = %q, %v", got, err)
	}
	if _, err := artifact.Match(root, []string{"**/*.js"}); err == nil || !strings.Contains(err.Error(), "node_modules") {
		t.Errorf("a pattern that does need node_modules: %v", err)
	}
}
