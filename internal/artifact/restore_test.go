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

func TestRestoreRecreatesFilesModesAndSymlinks(t *testing.T) {
	src := outputTree(t)
	b := openBlobs(t)
	files, err := b.Collect(src, []string{"dist"})
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "new", "workspace")
	if err := b.Restore(dst, files); err != nil {
		t.Fatal(err)
	}
	// The source also holds src/main.go, which is not an output.
	want := slices.DeleteFunc(listTree(t, src), func(s string) bool { return s == "src/" || s == "src/main.go" })
	if got := listTree(t, dst); !slices.Equal(got, want) {
		t.Fatalf("restored\n%q\nwant\n%q", got, want)
	}
	for name, mode := range map[string]fs.FileMode{"dist/app": 0o755, "dist/secret": 0o600, "dist/lib/data.txt": 0o644} {
		fi, err := os.Lstat(filepath.Join(dst, name))
		if err != nil || fi.Mode() != mode {
			t.Errorf("%s: mode %v, %v; want %v", name, fi.Mode(), err, mode)
		}
	}
	if data, _ := os.ReadFile(filepath.Join(dst, "dist/current")); string(data) != "#!/bin/sh\necho app\n" {
		t.Errorf("dist/current through the restored link: %q", data)
	}
	// A manifest from HashFiles of the result is the one restored.
	again, err := artifact.HashFiles(dst, []string{"dist"})
	if err != nil || !slices.Equal(again, files) {
		t.Errorf("restored tree hashes differently: %v", err)
	}
	// Restoring again over the result replaces files in place.
	if err := b.Restore(dst, files); err != nil {
		t.Fatalf("second restore: %v", err)
	}
}

func TestRestoreReplacesSymlinkInsteadOfWritingThroughIt(t *testing.T) {
	b := openBlobs(t)
	victim := filepath.Join(t.TempDir(), "victim")
	writeFiles(t, filepath.Dir(victim), "victim", "untouched")
	dst := t.TempDir()
	symlink(t, victim, filepath.Join(dst, "dist", "app"))
	files := []artifact.File{{Path: "dist/app", Mode: 0o755, Size: 3, Digest: put(t, b, "new")}}
	if err := b.Restore(dst, files); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(victim); string(data) != "untouched" {
		t.Errorf("the link's target was written: %q", data)
	}
	if fi, _ := os.Lstat(filepath.Join(dst, "dist", "app")); !fi.Mode().IsRegular() {
		t.Errorf("dist/app is %v, want a regular file", fi.Mode())
	}
}

func TestRestoreIsAllOrNothing(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spoil func(*testing.T, *artifact.Blobs, artifact.Digest)
		want  error
	}{
		{"corrupt", func(t *testing.T, b *artifact.Blobs, d artifact.Digest) { tamper(t, b, d) }, artifact.ErrCorrupt},
		{"missing", func(t *testing.T, b *artifact.Blobs, d artifact.Digest) { os.Remove(blobFile(b, d)) }, artifact.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := openBlobs(t)
			var files []artifact.File
			for i, name := range []string{"out/a", "out/b/c", "out/d", "out/e"} {
				content := string(make64(byte('a' + i)))
				files = append(files, artifact.File{Path: name, Mode: 0o644, Size: 64, Digest: put(t, b, content)})
			}
			files = append(files, artifact.File{Path: "out/link", Mode: fs.ModeSymlink | 0o777, Link: "a"})
			tc.spoil(t, b, files[2].Digest)

			dst := t.TempDir()
			writeFiles(t, dst, "keep.txt", "the workspace's own file")
			err := b.Restore(dst, files)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Restore: %v, want %v", err, tc.want)
			}
			if got := listTree(t, dst); !slices.Equal(got, []string{"keep.txt"}) {
				t.Errorf("a failed restore left %q", got)
			}
		})
	}
}

func TestRestoreRefusesUnsafeManifests(t *testing.T) {
	b := openBlobs(t)
	d := put(t, b, "payload")
	file := func(p string) artifact.File { return artifact.File{Path: p, Mode: 0o644, Size: 7, Digest: d} }
	link := func(p, target string) artifact.File {
		return artifact.File{Path: p, Mode: fs.ModeSymlink | 0o777, Link: target}
	}
	dir := func(p string) artifact.File { return artifact.File{Path: p, Mode: fs.ModeDir | 0o700} }
	parent := t.TempDir()
	elsewhere := filepath.Join(parent, "elsewhere")
	os.Mkdir(elsewhere, 0o755)

	tests := map[string][]artifact.File{
		"dot dot":             {file("../escaped")},
		"dot dot inside":      {file("a/../../escaped")},
		"absolute":            {file(filepath.Join(parent, "escaped"))},
		"empty":               {file("")},
		"dot":                 {file("./a")},
		"double slash":        {file("a//b")},
		".git":                {file(".git/hooks/pre-commit")},
		"nested .GIT":         {file("sub/.GIT/config")},
		"file under link":     {link("out", elsewhere), file("out/escaped")},
		"file under file":     {file("a"), file("a/b")},
		"dir under link":      {link("out", elsewhere), dir("out/sub")},
		"link climbing out":   {link("a/up", "../../elsewhere")},
		"dir existing link":   {dir("escape"), dir("escape/sub")}, // escape -> elsewhere, made below
		"dir in inner link":   {dir("inner/sub")},                 // inner -> real, made below
		"existing link":       {file("escape/escaped")},           // escape -> elsewhere, made below
		"existing inner link": {file("inner/escaped")},            // inner -> real, made below
	}
	for name, files := range tests {
		t.Run(name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "ws")
			os.MkdirAll(filepath.Join(dst, "real"), 0o755)
			symlink(t, elsewhere, filepath.Join(dst, "escape"))
			symlink(t, "real", filepath.Join(dst, "inner"))
			err := b.Restore(dst, files)
			if !errors.Is(err, artifact.ErrUnsafePath) {
				t.Errorf("Restore: %v, want ErrUnsafePath", err)
			}
			if got := listTree(t, parent); !slices.Equal(got, []string{"elsewhere/"}) {
				t.Errorf("wrote outside: %q", got)
			}
			if entries, _ := os.ReadDir(filepath.Join(dst, "real")); len(entries) > 0 {
				t.Errorf("wrote through an in-workspace link")
			}
		})
	}

	bad := map[string][]artifact.File{
		"duplicate":         {file("a"), file("a")},
		"invalid digest":    {{Path: "a", Mode: 0o644, Digest: "sha256:../../x"}},
		"link w/o target":   {link("a", "")},
		"directory w/ blob": {{Path: "a", Mode: fs.ModeDir | 0o755, Size: 7, Digest: d}},
		"link w/ blob":      {{Path: "a", Mode: fs.ModeSymlink | 0o777, Link: "b", Size: 7, Digest: d}},
		"device":            {{Path: "a", Mode: fs.ModeDevice | 0o644, Digest: d}},
	}
	for name, files := range bad {
		if err := b.Restore(t.TempDir(), files); err == nil {
			t.Errorf("%s: Restore accepted it", name)
		}
	}
}

func TestRestoreRefusesDirectoryInTheWay(t *testing.T) {
	b := openBlobs(t)
	dst := t.TempDir()
	writeFiles(t, dst, "dist/app/inside", "x")
	files := []artifact.File{
		{Path: "dist/other", Mode: 0o644, Size: 1, Digest: put(t, b, "y")},
		{Path: "dist/app", Mode: 0o755, Size: 1, Digest: put(t, b, "z")},
	}
	if err := b.Restore(dst, files); err == nil {
		t.Fatal("Restore replaced a directory with a file")
	}
	if got := listTree(t, dst); !slices.Equal(got, []string{"dist/", "dist/app/", "dist/app/inside"}) {
		t.Errorf("left %q", got)
	}
}

// TestRestoreKeepsEmptyDirectoriesAndModes: an output directory comes back
// as it was, empty directories and directory modes included (a read-only
// one too, which must still receive its files, even when restored twice
// into the same place), and a pattern naming an empty directory is a match.
func TestRestoreKeepsEmptyDirectoriesAndModes(t *testing.T) {
	src := t.TempDir()
	writeFiles(t, src, "app/real", "hi\n", "app/ro/inside", "x", "app/bin/run", "#!/bin/sh\n")
	for _, d := range []struct {
		name string
		mode fs.FileMode
	}{{"app/empty", 0o700}, {"app/empty/nested", 0o750}} { // parents first
		if err := os.Mkdir(filepath.Join(src, d.name), d.mode); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(src, "app/bin/run"), 0o750)
	os.Chmod(filepath.Join(src, "app/ro"), 0o555)
	t.Cleanup(func() { os.Chmod(filepath.Join(src, "app/ro"), 0o755) })
	symlink(t, "real", filepath.Join(src, "app/alias"))

	b := openBlobs(t)
	files, err := b.Collect(src, []string{"app"})
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "out")
	for range 2 {
		if err := b.Restore(dst, files); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { os.Chmod(filepath.Join(dst, "app/ro"), 0o755) })
	if got, want := listTree(t, dst), listTree(t, src); !slices.Equal(got, want) {
		t.Fatalf("restored\n%q\nwant\n%q", got, want)
	}
	for name, mode := range map[string]fs.FileMode{
		"app":              fs.ModeDir | 0o755,
		"app/empty":        fs.ModeDir | 0o700,
		"app/empty/nested": fs.ModeDir | 0o750,
		"app/ro":           fs.ModeDir | 0o555,
		"app/bin/run":      0o750,
		"app/alias":        fs.ModeSymlink | 0o777,
	} {
		if fi, err := os.Lstat(filepath.Join(dst, name)); err != nil || fi.Mode() != mode {
			t.Errorf("%s: %v, %v; want %v", name, fi.Mode(), err, mode)
		}
	}
	if target, _ := os.Readlink(filepath.Join(dst, "app/alias")); target != "real" {
		t.Errorf("app/alias -> %q", target)
	}
	again, err := artifact.HashFiles(dst, []string{"app"})
	if err != nil || artifact.TreeDigest(again) != artifact.TreeDigest(files) {
		t.Errorf("the restored tree has another digest: %v", err)
	}

	empty, err := b.Collect(src, []string{"app/empty/nested"})
	if err != nil || len(empty) != 1 || !empty[0].IsDir() {
		t.Errorf("an output naming an empty directory: %+v, %v", empty, err)
	}
}

// The directories Restore creates on its own (parents that the manifest
// does not list; listed ones keep their recorded mode) take the root's
// mode: private inside a private directory (a release in the data
// directory), the usual mode in the user's own (`velocity artifacts --to`).
func TestRestoreDirectoriesTakeTheRootsMode(t *testing.T) {
	src := outputTree(t)
	b := openBlobs(t)
	files, err := b.Collect(src, []string{"dist"})
	if err != nil {
		t.Fatal(err)
	}
	files = slices.DeleteFunc(files, artifact.File.IsDir)
	for _, perm := range []fs.FileMode{0o700, 0o755} {
		dst := filepath.Join(t.TempDir(), "release")
		if err := os.Mkdir(dst, perm); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(dst)
		if err != nil {
			t.Fatal(err)
		}
		root := fi.Mode().Perm() // perm cut by the umask
		if err := b.Restore(dst, files); err != nil {
			t.Fatal(err)
		}
		for _, dir := range []string{"dist", "dist/lib"} {
			fi, err := os.Stat(filepath.Join(dst, dir))
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != root {
				t.Errorf("%s restored into a %v directory is %v", dir, root, got)
			}
		}
	}
}
