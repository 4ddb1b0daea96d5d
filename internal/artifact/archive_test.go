package artifact_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/artifact"
)

func TestPackUnpackRoundTrip(t *testing.T) {
	src := t.TempDir()
	writeFiles(t, src,
		".cache/go-build/00/a-d", "object",
		".cache/go-build/ff/b-a", "action",
		".cache/go-build/README", "cache",
		"node_modules/.bin/tool", "#!/bin/sh",
		"node_modules/pkg/index.js", "js",
		"node_modules/pkg/.git/HEAD", "ref",
		"vendor.lock", "lock",
		"src/main.go", "not cached",
	)
	os.Chmod(filepath.Join(src, "node_modules/.bin/tool"), 0o755)
	os.MkdirAll(filepath.Join(src, "node_modules/empty"), 0o700)
	symlink(t, "../pkg/index.js", filepath.Join(src, "node_modules/.bin/pkg"))
	// A read-only directory, as the Go module cache makes them.
	writeFiles(t, src, "gomod/mod@v1/go.mod", "module mod")
	os.Chmod(filepath.Join(src, "gomod/mod@v1/go.mod"), 0o444)
	os.Chmod(filepath.Join(src, "gomod/mod@v1"), 0o555)
	t.Cleanup(func() { os.Chmod(filepath.Join(src, "gomod/mod@v1"), 0o755) })
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	os.Chtimes(filepath.Join(src, ".cache/go-build/00/a-d"), old, old)

	b := openBlobs(t)
	paths := []string{".cache/go-build", "node_modules", "node_modules/pkg", "vendor.lock", "gomod", "missing/dir"}
	d, n, err := b.PackDirs(src, paths)
	if err != nil {
		t.Fatal(err)
	}
	if !b.Has(d) || n < 512 {
		t.Fatalf("PackDirs = %s, %d", d, n)
	}
	// Packing the same tree again gives the same blob.
	if d2, _, _ := b.PackDirs(src, paths); d2 != d {
		t.Errorf("packing twice: %s then %s", d, d2)
	}

	dst := filepath.Join(t.TempDir(), "ws")
	if err := b.UnpackDirs(dst, d); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(filepath.Join(dst, "gomod/mod@v1"), 0o755) })
	want := slices.DeleteFunc(listTree(t, src), func(s string) bool { return s == "src/" || s == "src/main.go" })
	if got := listTree(t, dst); !slices.Equal(got, want) {
		t.Fatalf("unpacked\n%q\nwant\n%q", got, want)
	}
	for name, mode := range map[string]os.FileMode{
		"node_modules/.bin/tool": 0o755,
		"node_modules/empty":     os.ModeDir | 0o700,
		"gomod/mod@v1":           os.ModeDir | 0o555,
		"gomod/mod@v1/go.mod":    0o444,
	} {
		if fi, err := os.Lstat(filepath.Join(dst, name)); err != nil || fi.Mode() != mode {
			t.Errorf("%s: %v, %v; want %v", name, fi.Mode(), err, mode)
		}
	}
	if fi, _ := os.Stat(filepath.Join(dst, ".cache/go-build/00/a-d")); !fi.ModTime().Equal(old) {
		t.Errorf("modification time %v, want %v", fi.ModTime(), old)
	}
	if data, _ := os.ReadFile(filepath.Join(dst, "node_modules/.bin/pkg")); string(data) != "js" {
		t.Errorf("through the unpacked link: %q", data)
	}

	// Unpacking over an existing tree replaces what is there.
	os.Chmod(filepath.Join(dst, "gomod/mod@v1"), 0o755)
	writeFiles(t, dst, "vendor.lock", "stale")
	if err := b.UnpackDirs(dst, d); err != nil {
		t.Fatalf("unpacking again: %v", err)
	}
	if data, _ := os.ReadFile(filepath.Join(dst, "vendor.lock")); string(data) != "lock" {
		t.Errorf("vendor.lock = %q", data)
	}
}

func TestPackNothing(t *testing.T) {
	b := openBlobs(t)
	d, _, err := b.PackDirs(t.TempDir(), []string{"missing"})
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	if err := b.UnpackDirs(dst, d); err != nil {
		t.Fatal(err)
	}
	if got := listTree(t, dst); len(got) != 0 {
		t.Errorf("unpacked %q", got)
	}
}

func TestPackRefusesPathsOutsideRoot(t *testing.T) {
	b := openBlobs(t)
	root := t.TempDir()
	for _, p := range []string{"../x", "a/../../x", "/etc", "", "."} {
		if _, _, err := b.PackDirs(root, []string{p}); !errors.Is(err, artifact.ErrUnsafePath) {
			t.Errorf("PackDirs(%q): %v, want ErrUnsafePath", p, err)
		}
	}
}

func TestPackDoesNotFollowSymlinks(t *testing.T) {
	outside := t.TempDir()
	writeFiles(t, outside, "secret", "s")
	src := t.TempDir()
	symlink(t, outside, filepath.Join(src, "cache"))
	symlink(t, outside, filepath.Join(src, "deps/out"))
	b := openBlobs(t)
	d, _, err := b.PackDirs(src, []string{"cache", "deps"})
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	if err := b.UnpackDirs(dst, d); err != nil {
		t.Fatal(err)
	}
	want := []string{"cache -> " + outside, "deps/", "deps/out -> " + outside}
	if got := listTree(t, dst); !slices.Equal(got, want) {
		t.Errorf("unpacked %q, want %q", got, want)
	}
}

// tarBlob stores a hand-made archive, as an attacker with write access to
// the store could.
func tarBlob(t *testing.T, b *artifact.Blobs, entries ...tar.Header) artifact.Digest {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range entries {
		content := h.Linkname
		if h.Typeflag == tar.TypeReg {
			h.Linkname, h.Size = "", int64(len(content))
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write([]byte(content))
		}
	}
	tw.Close()
	return put(t, b, buf.String())
}

func TestUnpackRefusesHostileArchives(t *testing.T) {
	parent := t.TempDir()
	outside := filepath.Join(parent, "outside")
	os.Mkdir(outside, 0o755)
	file := func(name string) tar.Header {
		return tar.Header{Typeflag: tar.TypeReg, Name: name, Linkname: "evil"} // Linkname is the content, see tarBlob
	}
	tests := map[string][]tar.Header{
		"dot dot":       {file("ok"), file("../outside/evil")},
		"absolute":      {file(filepath.Join(outside, "evil"))},
		"dot dot dir":   {{Typeflag: tar.TypeDir, Name: "a/../../outside/"}},
		"through link":  {{Typeflag: tar.TypeSymlink, Name: "l", Linkname: outside}, file("l/evil")},
		"through inner": {{Typeflag: tar.TypeSymlink, Name: "l", Linkname: "real"}, file("l/evil")},
		"link as dir":   {{Typeflag: tar.TypeSymlink, Name: "l", Linkname: outside}, {Typeflag: tar.TypeDir, Name: "l/"}},
		"existing link": {file("escape/evil")},
	}
	b := openBlobs(t)
	for name, entries := range tests {
		t.Run(name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "ws")
			os.MkdirAll(filepath.Join(dst, "real"), 0o755)
			symlink(t, outside, filepath.Join(dst, "escape"))
			err := b.UnpackDirs(dst, tarBlob(t, b, entries...))
			if !errors.Is(err, artifact.ErrUnsafePath) {
				t.Errorf("UnpackDirs: %v, want ErrUnsafePath", err)
			}
			if got := listTree(t, parent); !slices.Equal(got, []string{"outside/"}) {
				t.Errorf("wrote outside: %q", got)
			}
			// What was written before the bad entry is taken back.
			if got := listTree(t, dst); !slices.Equal(got, []string{"escape -> " + outside, "real/"}) {
				t.Errorf("left in the workspace: %q", got)
			}
		})
	}
	others := map[string][]tar.Header{
		"hard link": {file("a"), {Typeflag: tar.TypeLink, Name: "b", Linkname: "a"}},
		"device":    {{Typeflag: tar.TypeChar, Name: "tty", Devmajor: 5}},
		"fifo":      {{Typeflag: tar.TypeFifo, Name: "p"}},
	}
	for name, entries := range others {
		dst := t.TempDir()
		if err := b.UnpackDirs(dst, tarBlob(t, b, entries...)); err == nil {
			t.Errorf("%s: accepted", name)
		}
		if got := listTree(t, dst); len(got) > 0 {
			t.Errorf("%s: left %q", name, got)
		}
	}
}

func TestUnpackDetectsCorruptionAndRollsBack(t *testing.T) {
	src := t.TempDir()
	for i := range 50 {
		writeFiles(t, src, filepath.Join("cache", string(rune('a'+i%26))+string(rune('a'+i/26))), string(make64(byte(i))))
	}
	b := openBlobs(t)
	d, _, err := b.PackDirs(src, []string{"cache"})
	if err != nil {
		t.Fatal(err)
	}
	tamper(t, b, d) // flips a byte in the middle: file content, or a header
	dst := t.TempDir()
	writeFiles(t, dst, "own", "x")
	if err := b.UnpackDirs(dst, d); !errors.Is(err, artifact.ErrCorrupt) {
		t.Fatalf("UnpackDirs: %v, want ErrCorrupt", err)
	}
	if got := listTree(t, dst); !slices.Equal(got, []string{"own"}) {
		t.Errorf("a corrupt archive left %q", got)
	}
	if b.Has(d) {
		t.Error("the corrupt blob is still stored")
	}
	if err := b.UnpackDirs(dst, d); !errors.Is(err, artifact.ErrNotFound) {
		t.Errorf("UnpackDirs of a missing blob: %v", err)
	}
}
