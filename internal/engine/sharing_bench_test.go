package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkSharingPicture measures what the sharing check adds to each
// executed action: two pictures of the workspace and their comparison.
// VELOCITY_BENCH_WORKSPACE points it at a real tree (e.g. a Node project
// after npm install); otherwise it builds one with a node_modules of 1,000
// packages.
func BenchmarkSharingPicture(b *testing.B) {
	dir := os.Getenv("VELOCITY_BENCH_WORKSPACE")
	if dir == "" {
		dir = b.TempDir()
		for i := range 1000 {
			pkg := filepath.Join(dir, "node_modules", fmt.Sprint("pkg", i))
			if err := os.MkdirAll(pkg, 0o755); err != nil {
				b.Fatal(err)
			}
			os.WriteFile(filepath.Join(pkg, "index.js"), nil, 0o644)
		}
		for _, f := range []string{"package.json", "package-lock.json", "index.js", "README.md"} {
			os.WriteFile(filepath.Join(dir, f), nil, 0o644)
		}
		os.MkdirAll(filepath.Join(dir, "test"), 0o755)
	}
	for b.Loop() {
		before, err := takePicture(dir, nil)
		if err != nil {
			b.Fatal(err)
		}
		after, err := takePicture(dir, nil)
		if err != nil {
			b.Fatal(err)
		}
		created(before, after)
	}
}
