package artifact_test

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/velocity-ci/velocity/internal/artifact"
)

// Run with:
//
//	go test -run '^$' -bench . -benchtime 10x ./internal/artifact
//
// Each benchmark has a "baseline" beside it doing the least the same job
// needs (a serial walk that reads or copies every byte), so results read
// as ratios on whatever machine runs them. ARTIFACT_BENCH_TREE=DIR packs a
// real directory (say a Go build cache) instead of the synthetic tree.

// benchTree makes 2,000 files of 4 KiB in 40 directories and 4 of 8 MiB:
// a source tree and a few build outputs, 40 MiB in all.
func benchTree(b *testing.B) (string, int64) {
	root := b.TempDir()
	small := make([]byte, 4<<10)
	big := make([]byte, 8<<20)
	rand.Read(big)
	var total int64
	for i := range 2000 {
		rand.Read(small)
		p := filepath.Join(root, "src", fmt.Sprintf("pkg%02d", i%40), fmt.Sprintf("f%04d.go", i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, small, 0o644); err != nil {
			b.Fatal(err)
		}
		total += int64(len(small))
	}
	for i := range 4 {
		big[0] = byte(i)
		p := filepath.Join(root, "dist", fmt.Sprintf("bin%d", i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, big, 0o755); err != nil {
			b.Fatal(err)
		}
		total += int64(len(big))
	}
	return root, total
}

func BenchmarkHashFiles(b *testing.B) {
	root, total := benchTree(b)
	b.Run("HashFiles", func(b *testing.B) {
		b.SetBytes(total)
		for b.Loop() {
			if _, err := artifact.HashFiles(root, []string{"**"}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline serial walk+sha256", func(b *testing.B) {
		b.SetBytes(total)
		for b.Loop() {
			walkFiles(b, root, func(p string) {
				f, _ := os.Open(p)
				h := sha256.New()
				io.Copy(h, f)
				f.Close()
			})
		}
	})
}

func BenchmarkCollect(b *testing.B) {
	root, total := benchTree(b)
	b.Run("Collect new content", func(b *testing.B) {
		b.SetBytes(total)
		for b.Loop() {
			b.StopTimer()
			store := openBlobs(b)
			b.StartTimer()
			if _, err := store.Collect(root, []string{"src", "dist"}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Collect stored content", func(b *testing.B) {
		store := openBlobs(b)
		store.Collect(root, []string{"**"})
		b.SetBytes(total)
		for b.Loop() {
			if _, err := store.Collect(root, []string{"**"}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline serial copy", func(b *testing.B) {
		b.SetBytes(total)
		for b.Loop() {
			b.StopTimer()
			dst := b.TempDir()
			b.StartTimer()
			copyTree(b, root, dst)
		}
	})
}

func BenchmarkRestore(b *testing.B) {
	root, total := benchTree(b)
	store := openBlobs(b)
	files, err := store.Collect(root, []string{"**"})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("Restore", func(b *testing.B) {
		b.SetBytes(total)
		for b.Loop() {
			b.StopTimer()
			dst := b.TempDir()
			b.StartTimer()
			if err := store.Restore(dst, files); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline serial copy", func(b *testing.B) {
		b.SetBytes(total)
		for b.Loop() {
			b.StopTimer()
			dst := b.TempDir()
			b.StartTimer()
			copyTree(b, root, dst)
		}
	})
}

func BenchmarkPackDirs(b *testing.B) {
	root, total := benchTree(b)
	paths := []string{"src", "dist"}
	if dir := os.Getenv("ARTIFACT_BENCH_TREE"); dir != "" {
		root, paths, total = filepath.Dir(dir), []string{filepath.Base(dir)}, treeSize(b, dir)
	}
	store := openBlobs(b)
	b.Run("PackDirs", func(b *testing.B) {
		b.SetBytes(total)
		for b.Loop() {
			if _, _, err := store.PackDirs(root, paths); err != nil {
				b.Fatal(err)
			}
		}
	})
	d, _, err := store.PackDirs(root, paths)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("UnpackDirs", func(b *testing.B) {
		b.SetBytes(total)
		for b.Loop() {
			b.StopTimer()
			dst := b.TempDir()
			b.StartTimer()
			if err := store.UnpackDirs(dst, d); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline serial copy", func(b *testing.B) {
		b.SetBytes(total)
		for b.Loop() {
			b.StopTimer()
			dst := b.TempDir()
			b.StartTimer()
			for _, p := range paths {
				copyTree(b, filepath.Join(root, p), filepath.Join(dst, p))
			}
		}
	})
}

func walkFiles(b *testing.B, root string, fn func(path string)) {
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() {
			fn(p)
		}
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
}

func copyTree(b *testing.B, src, dst string) {
	walkFiles(b, src, func(p string) {
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		os.MkdirAll(filepath.Dir(out), 0o755)
		in, _ := os.Open(p)
		o, _ := os.Create(out)
		// Hide ReadFrom so that the kernel does not copy for us: the store
		// cannot, since it hashes every byte.
		io.Copy(struct{ io.Writer }{o}, in)
		o.Close()
		in.Close()
	})
}

func treeSize(b *testing.B, dir string) int64 {
	var n int64
	walkFiles(b, dir, func(p string) {
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	})
	return n
}
