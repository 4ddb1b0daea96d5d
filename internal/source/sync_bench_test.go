package source

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkSync10k makes the workspace of a repository of 10,000 small
// files: "fresh" into a new directory each time (what every run did before
// workspaces were reused), "unchanged" into the workspace of the previous
// iteration, where nothing needs writing.
func BenchmarkSync10k(b *testing.B) {
	if _, err := exec.LookPath("git"); err != nil {
		b.Skip("git not installed")
	}
	b.Setenv("HOME", b.TempDir())
	b.Setenv("GIT_CONFIG_GLOBAL", os.DevNull)
	b.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	repo := filepath.Join(b.TempDir(), "repo")
	for i := range 10000 {
		p := filepath.Join(repo, fmt.Sprintf("d%02d", i%100), fmt.Sprintf("f%05d.go", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(strings.Repeat(fmt.Sprintln(i), 200)), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	for _, args := range [][]string{{"init", "-q"}, {"add", "-A"}, {"-c", "user.name=b", "-c", "user.email=b@example.com", "commit", "-qm", "b"}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = repo
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	for _, name := range []string{"worktree", "rev"} {
		opts := Options{}
		if name == "rev" {
			opts.Rev = "HEAD"
		}
		b.Run(name+"/fresh", func(b *testing.B) {
			for b.Loop() {
				dest := filepath.Join(b.TempDir(), "ws")
				if _, err := Take(context.Background(), repo, dest, opts); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				os.RemoveAll(dest) // as the run did after it
				b.StartTimer()
			}
		})
		b.Run(name+"/unchanged", func(b *testing.B) {
			dest := filepath.Join(b.TempDir(), "ws")
			if _, err := Take(context.Background(), repo, dest, opts); err != nil {
				b.Skip(err) // before reuse, an existing workspace is refused
			}
			for b.Loop() {
				if _, err := Take(context.Background(), repo, dest, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
