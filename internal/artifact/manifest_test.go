package artifact_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/velocity-ci/velocity/internal/artifact"
)

// outputTree is a workspace after a build: an executable, a private file,
// symlinks, and files that are not outputs.
func outputTree(t testing.TB) string {
	root := t.TempDir()
	writeFiles(t, root,
		"dist/app", "#!/bin/sh\necho app\n",
		"dist/lib/data.txt", "data",
		"dist/secret", "private",
		"src/main.go", "package main",
	)
	os.Chmod(filepath.Join(root, "dist/app"), 0o755)
	os.Chmod(filepath.Join(root, "dist/secret"), 0o600)
	symlink(t, "app", filepath.Join(root, "dist/current"))
	symlink(t, "/usr/share", filepath.Join(root, "dist/share"))
	return root
}

func TestCollect(t *testing.T) {
	root := outputTree(t)
	b := openBlobs(t)
	files, err := b.Collect(root, []string{"dist"})
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range files {
		paths = append(paths, f.Path)
	}
	if want := []string{"dist", "dist/app", "dist/current", "dist/lib", "dist/lib/data.txt", "dist/secret", "dist/share"}; !slices.Equal(paths, want) {
		t.Fatalf("paths %q, want %q", paths, want)
	}
	dist, app, cur, sec := files[0], files[1], files[2], files[5]
	if !dist.IsDir() || dist.Mode != fs.ModeDir|0o755 || dist.Digest != "" || dist.Size != 0 {
		t.Errorf("dist: %+v", dist)
	}
	if app.Mode != 0o755 || app.Size != 19 || app.IsSymlink() {
		t.Errorf("dist/app: %+v", app)
	}
	if got, err := readBlob(b, app.Digest); err != nil || got != "#!/bin/sh\necho app\n" {
		t.Errorf("stored dist/app: %q, %v", got, err)
	}
	if sec.Mode != 0o600 {
		t.Errorf("dist/secret mode %v", sec.Mode)
	}
	if !cur.IsSymlink() || cur.Link != "app" || cur.Digest != "" || cur.Mode != fs.ModeSymlink|0o777 {
		t.Errorf("dist/current: %+v", cur)
	}

	// Collecting unchanged outputs again keeps the stored blobs as they are.
	before, _ := os.Stat(blobFile(b, app.Digest))
	if again, err := b.Collect(root, []string{"dist"}); err != nil || !slices.Equal(again, files) {
		t.Fatalf("second Collect: %v", err)
	}
	if after, _ := os.Stat(blobFile(b, app.Digest)); !os.SameFile(before, after) {
		t.Error("stored content was written again")
	}

	_, err = b.Collect(root, []string{"dist/app", "dist/app.exe"})
	if !errors.Is(err, artifact.ErrNoMatch) || err.Error() != `"dist/app.exe" matched no file` {
		t.Errorf("an output not produced: %v", err)
	}
}

func TestHashFilesAgreesWithCollect(t *testing.T) {
	root := outputTree(t)
	// Enough files for every worker to get several.
	for i := range 200 {
		writeFiles(t, root, filepath.Join("src", "pkg", string(rune('a'+i%26)), string(rune('a'+i/26))+".go"), string(rune(i)))
	}
	hashed, err := artifact.HashFiles(root, []string{"**"})
	if err != nil {
		t.Fatal(err)
	}
	b := openBlobs(t)
	collected, err := b.Collect(root, []string{"**"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(hashed, collected) {
		t.Fatal("HashFiles and Collect disagree")
	}
	// 206 files and links, and 30 directories: dist, dist/lib, src,
	// src/pkg and its 26 subdirectories.
	if len(hashed) != 236 {
		t.Errorf("%d entries", len(hashed))
	}
	if _, err := artifact.HashFiles(root, []string{"nothing"}); !errors.Is(err, artifact.ErrNoMatch) {
		t.Errorf("no match: %v", err)
	}
}

func TestTreeDigest(t *testing.T) {
	d1, _ := artifact.Parse("sha256:" + string(make64('1')))
	d2, _ := artifact.Parse("sha256:" + string(make64('2')))
	base := []artifact.File{
		{Path: "a", Mode: 0o644, Size: 1, Digest: d1},
		{Path: "b", Mode: fs.ModeSymlink | 0o777, Link: "a"},
	}
	want := artifact.TreeDigest(base)
	if want.Validate() != nil {
		t.Fatalf("TreeDigest is not a digest: %q", want)
	}
	if got := artifact.TreeDigest([]artifact.File{base[1], base[0]}); got != want {
		t.Error("TreeDigest depends on the order of files")
	}
	// Size is implied by the digest and does not count.
	if got := artifact.TreeDigest([]artifact.File{{Path: "a", Mode: 0o644, Size: 99, Digest: d1}, base[1]}); got != want {
		t.Error("TreeDigest depends on Size")
	}
	changes := map[string][]artifact.File{
		"path":    {{Path: "c", Mode: 0o644, Digest: d1}, base[1]},
		"mode":    {{Path: "a", Mode: 0o755, Digest: d1}, base[1]},
		"content": {{Path: "a", Mode: 0o644, Digest: d2}, base[1]},
		"link":    {base[0], {Path: "b", Mode: fs.ModeSymlink | 0o777, Link: "c"}},
		"missing": {base[0]},
		// Without length prefixes these two would encode alike.
		"boundary": {{Path: "a", Mode: 0o644, Digest: d1}, {Path: "b", Mode: fs.ModeSymlink | 0o777, Link: "a"}, {Path: "", Link: ""}},
	}
	for name, files := range changes {
		if artifact.TreeDigest(files) == want {
			t.Errorf("TreeDigest ignores a change of %s", name)
		}
	}
	if artifact.TreeDigest(nil) == artifact.TreeDigest([]artifact.File{{}}) {
		t.Error("an empty manifest and one empty entry collide")
	}
}

func make64(c byte) []byte {
	b := make([]byte, 64)
	for i := range b {
		b[i] = c
	}
	return b
}
