package artifact_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/artifact"
)

// TestCollectKeepsVirtualenvAndNodeModulesLinks stores the two trees real
// Python and Node projects produce, whose links are what makes them work:
// a virtualenv's interpreter is an absolute link to the system's, its
// aliases and lib64 are relative ones, and node_modules/.bin holds
// relative links into the packages. Restored elsewhere, every link is a
// link with its target unchanged, and the relative ones still resolve.
func TestCollectKeepsVirtualenvAndNodeModulesLinks(t *testing.T) {
	src := t.TempDir()
	writeFiles(t, src,
		".venv/pyvenv.cfg", "home = /usr/bin\n",
		".venv/lib/python3.11/site-packages/app.py", "print('hi')\n",
		"node_modules/pkg/bin/x.js", "#!/usr/bin/env node\nconsole.log('x')\n",
		"node_modules/pkg/package.json", "{}\n",
	)
	os.Chmod(filepath.Join(src, "node_modules/pkg/bin/x.js"), 0o755)
	symlink(t, "/usr/bin/python3", filepath.Join(src, ".venv/bin/python3"))
	symlink(t, "python3", filepath.Join(src, ".venv/bin/python"))
	symlink(t, "lib", filepath.Join(src, ".venv/lib64"))
	symlink(t, "../pkg/bin/x.js", filepath.Join(src, "node_modules/.bin/x"))

	b := openBlobs(t)
	files, err := b.Collect(src, []string{".venv", "node_modules"})
	if err != nil {
		t.Fatal(err)
	}
	links := map[string]string{}
	for _, f := range files {
		if f.IsSymlink() {
			if f.Digest != "" || f.Size != 0 {
				t.Errorf("%s: a link with a blob: %+v", f.Path, f)
			}
			links[f.Path] = f.Link
		}
	}
	want := map[string]string{
		".venv/bin/python3":   "/usr/bin/python3",
		".venv/bin/python":    "python3",
		".venv/lib64":         "lib",
		"node_modules/.bin/x": "../pkg/bin/x.js",
	}
	if len(links) != len(want) {
		t.Errorf("links %v, want %v", links, want)
	}
	for p, target := range want {
		if links[p] != target {
			t.Errorf("%s -> %q, want %q", p, links[p], target)
		}
	}

	dst := filepath.Join(t.TempDir(), "release")
	if err := b.Restore(dst, files); err != nil {
		t.Fatal(err)
	}
	if got, want := listTree(t, dst), listTree(t, src); !slices.Equal(got, want) {
		t.Fatalf("restored\n%q\nwant\n%q", got, want)
	}
	if data, err := os.ReadFile(filepath.Join(dst, "node_modules/.bin/x")); err != nil || !strings.Contains(string(data), "console.log") {
		t.Errorf("node_modules/.bin/x does not lead to the package: %q, %v", data, err)
	}
	if fi, err := os.Stat(filepath.Join(dst, "node_modules/.bin/x")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("the script the link leads to is not executable: %v, %v", fi, err)
	}
	if data, err := os.ReadFile(filepath.Join(dst, ".venv/lib64/python3.11/site-packages/app.py")); err != nil || string(data) != "print('hi')\n" {
		t.Errorf(".venv/lib64 does not lead to lib: %q, %v", data, err)
	}
}

func TestCollectRefusesLinksThatLeaveTheWorkspace(t *testing.T) {
	parent := t.TempDir()
	root := filepath.Join(parent, "ws")
	writeFiles(t, root, "app/real", "hi\n", "a/b/c/file", "x")
	writeFiles(t, parent, "secret", "outside")
	// Links that stay inside, and that the refused ones below use.
	symlink(t, "../../..", filepath.Join(root, "a/b/c/top")) // resolves to the workspace root
	symlink(t, "c", filepath.Join(root, "a/b/deep"))

	refused := map[string]string{
		"up":         "../secret",
		"app/up":     "../../secret",
		"app/dotdot": "../..",
		// Lexically "a/b", but top is the root, so this climbs two above.
		"through":         "a/b/c/top/../../secret",
		"missing":         "nothing/../../secret",
		"app/abs":         filepath.Join(root, "app/real"),
		"app/abs-root":    root,
		"app/abs-unclean": parent + "/./ws/app/../app/real",
	}
	for name, target := range refused {
		t.Run("refused "+name, func(t *testing.T) {
			symlink(t, target, filepath.Join(root, name))
			defer os.Remove(filepath.Join(root, name))
			_, err := openBlobs(t).Collect(root, []string{name})
			if !errors.Is(err, artifact.ErrUnsafePath) {
				t.Fatalf("Collect: %v, want ErrUnsafePath", err)
			}
			// The message names the output and its target, and says what to do.
			if msg := err.Error(); !strings.Contains(msg, "output "+name+" is a symlink to "+target) ||
				!(strings.Contains(msg, "Make it relative") || strings.Contains(msg, "Point it inside the workspace")) {
				t.Errorf("message: %s", msg)
			}
		})
	}

	kept := map[string]string{
		"app/alias":   "real",
		"app/to-dir":  "../a/b/c",
		"app/via":     "../a/b/deep/file", // through a link that stays inside
		"app/to-root": "../a/b/c/top",
		"app/root":    "..",
		"app/loop":    "loop",
		"app/dangles": "gone/file",
		"app/python3": "/usr/bin/python3",
		"app/sibling": filepath.Join(parent, "secret"), // outside, absolute: a system path as far as we know
	}
	for name, target := range kept {
		symlink(t, target, filepath.Join(root, name))
	}
	files, err := openBlobs(t).Collect(root, []string{"app"})
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	for _, f := range files {
		if want, ok := kept[f.Path]; ok && (f.Link != want || f.Mode != fs.ModeSymlink|0o777) {
			t.Errorf("%s: %+v, want a link to %s", f.Path, f, want)
		}
	}
	// Refusing is for outputs only: a cache key hashes any link by its
	// target, whatever it points to.
	symlink(t, "../secret", filepath.Join(root, "up"))
	if _, err := artifact.HashPresent(root, []string{"up"}); err != nil {
		t.Errorf("HashPresent of a link leading outside: %v", err)
	}
}
