package artifact_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/velocity-ci/velocity/internal/artifact"
)

func openBlobs(t testing.TB) *artifact.Blobs {
	t.Helper()
	b, err := artifact.OpenBlobs(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeFiles creates files under root from pairs of slash path and content.
func writeFiles(t testing.TB, root string, pairs ...string) {
	t.Helper()
	for i := 0; i < len(pairs); i += 2 {
		p := filepath.Join(root, filepath.FromSlash(pairs[i]))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(pairs[i+1]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func symlink(t testing.TB, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func put(t testing.TB, b *artifact.Blobs, content string) artifact.Digest {
	t.Helper()
	d, n, err := b.Put(bytes.NewReader([]byte(content)))
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(len(content)) {
		t.Fatalf("Put returned size %d, want %d", n, len(content))
	}
	return d
}

func readBlob(b *artifact.Blobs, d artifact.Digest) (string, error) {
	r, err := b.Open(d)
	if err != nil {
		return "", err
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	return string(data), err
}

// blobFile is where the store keeps d: the documented layout.
func blobFile(b *artifact.Blobs, d artifact.Digest) string {
	return filepath.Join(b.Dir(), "sha256", d.Hex()[:2], d.Hex())
}

// tamper flips one byte of d's stored content.
func tamper(t testing.TB, b *artifact.Blobs, d artifact.Digest) {
	t.Helper()
	p := blobFile(b, d)
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// listTree lists everything under root as slash paths, symlinks marked
// with their target, for comparing whole trees.
func listTree(t testing.TB, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, e os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if e.Type()&os.ModeSymlink != 0 {
			target, _ := os.Readlink(p)
			rel += " -> " + target
		} else if e.IsDir() {
			rel += "/"
		}
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}
