package source

import (
	"context"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// takeInto runs Take into dest and fails the test on error.
func takeInto(t *testing.T, dir, dest string, opts Options) Snapshot {
	t.Helper()
	snap, err := Take(context.Background(), dir, dest, opts)
	if err != nil {
		t.Fatalf("Take(%s, %s, %+v): %v", dir, dest, opts, err)
	}
	checkManifest(t, snap)
	return snap
}

// syncModes are the three ways Take reads a project, each with a way to
// record a change to it (a commit for Rev).
var syncModes = []struct {
	name   string
	git    bool
	opts   Options
	commit bool
}{
	{"worktree", true, Options{}, false},
	{"rev", true, Options{Rev: "HEAD"}, true},
	{"plain", false, Options{}, false},
}

func newProject(t *testing.T, git bool) string {
	t.Helper()
	if git {
		return newRepo(t)
	}
	return filepath.Join(t.TempDir(), "plain")
}

// A reused workspace ends up equal to a fresh copy: changed files are
// rewritten, deleted ones and whatever an earlier run left are removed,
// and untouched files keep their mtime, which is what lets tools' own
// caches (go test, make) hit.
func TestReusedWorkspaceEqualsSnapshot(t *testing.T) {
	gitTest(t)
	for _, m := range syncModes {
		t.Run(m.name, func(t *testing.T) {
			proj := newProject(t, m.git)
			write(t, proj, "same.go", "package same\n", 0o644)
			write(t, proj, "changed.go", "package aaaa\n", 0o644)
			write(t, proj, "deleted.go", "package gone\n", 0o644)
			write(t, proj, "gone/dir/x", "x", 0o644)
			write(t, proj, "run.sh", "#!/bin/sh\n", 0o755)
			write(t, proj, "pkg/inner.go", "package pkg\n", 0o644)
			symlink(t, proj, "same.go", "link")
			symlink(t, proj, "pkg", "dirlink")
			if m.git {
				commitAll(t, proj, "first")
			}
			dest := filepath.Join(t.TempDir(), "ws")
			first := takeInto(t, proj, dest, m.opts)
			if first.Written != first.Files || first.Removed != 0 {
				t.Errorf("first Take = %+v, want every file written, none removed", first)
			}

			// Age the workspace so that a rewrite shows in the mtime even
			// on a coarse clock.
			old := time.Now().Add(-time.Hour).Truncate(time.Second)
			for _, rel := range []string{"same.go", "changed.go", "run.sh", "pkg/inner.go"} {
				if err := os.Chtimes(filepath.Join(dest, rel), old, old); err != nil {
					t.Fatal(err)
				}
			}
			// What a run's actions leave behind.
			write(t, dest, "bin/app", "built", 0o755)
			write(t, dest, "pkg/generated.go", "package pkg\n", 0o644)
			write(t, dest, ".git/config", "[core]", 0o644)
			symlink(t, dest, "/etc", "stray-link")
			if err := os.Chmod(filepath.Join(dest, "run.sh"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(filepath.Join(dest, "emptydir"), 0o755); err != nil {
				t.Fatal(err)
			}

			// The user's edits: same size, other content; a deletion.
			write(t, proj, "changed.go", "package bbbb\n", 0o644)
			for _, p := range []string{"deleted.go", "gone"} {
				if err := os.RemoveAll(filepath.Join(proj, p)); err != nil {
					t.Fatal(err)
				}
			}
			if m.commit {
				commitAll(t, proj, "second")
			}

			second := takeInto(t, proj, dest, m.opts)
			fresh := filepath.Join(t.TempDir(), "fresh")
			takeInto(t, proj, fresh, m.opts)
			if got, want := listing(t, dest, false), listing(t, fresh, false); !maps.Equal(got, want) {
				t.Errorf("reused workspace:\n got %v\nwant %v", got, want)
			}
			for rel, untouched := range map[string]bool{"same.go": true, "pkg/inner.go": true, "run.sh": true, "changed.go": false} {
				fi, err := os.Lstat(filepath.Join(dest, rel))
				if err != nil {
					t.Fatal(err)
				}
				if kept := fi.ModTime().Equal(old); kept != untouched {
					t.Errorf("%s mtime %v, kept = %v, want %v", rel, fi.ModTime(), kept, untouched)
				}
			}
			if second.Written != 1 {
				t.Errorf("second Take wrote %d files, want 1 (changed.go)", second.Written)
			}
			// deleted.go, gone/, bin/, pkg/generated.go, .git/, stray-link, emptydir
			if second.Removed != 7 {
				t.Errorf("second Take removed %d entries, want 7", second.Removed)
			}
		})
	}
}

// Whatever an earlier run turned into a symlink, the next Take replaces the
// link itself and never writes through it, even when the link leads out of
// the workspace.
func TestReusedWorkspaceNeverWritesThroughSymlinks(t *testing.T) {
	gitTest(t)
	for _, m := range syncModes {
		t.Run(m.name, func(t *testing.T) {
			proj := newProject(t, m.git)
			write(t, proj, "file.txt", "project\n", 0o644)
			write(t, proj, "dir/inner.txt", "inner\n", 0o644)
			write(t, proj, "other.txt", "other\n", 0o644)
			symlink(t, proj, "other.txt", "link")
			if m.git {
				commitAll(t, proj, "first")
			}
			dest := filepath.Join(t.TempDir(), "ws")
			takeInto(t, proj, dest, m.opts)

			outside := t.TempDir()
			write(t, outside, "victim.txt", "victim\n", 0o644)
			write(t, outside, "inner.txt", "outside inner\n", 0o644)
			before := listing(t, outside, true)
			for rel, target := range map[string]string{
				"file.txt": filepath.Join(outside, "victim.txt"),
				"dir":      outside,
				"link":     filepath.Join(outside, "victim.txt"),
			} {
				if err := os.RemoveAll(filepath.Join(dest, rel)); err != nil {
					t.Fatal(err)
				}
				symlink(t, dest, target, rel)
			}
			// A project change, so the files are rewritten, not kept.
			write(t, proj, "file.txt", "changed\n", 0o644)
			write(t, proj, "dir/inner.txt", "changed inner\n", 0o644)
			if m.commit {
				commitAll(t, proj, "second")
			}

			takeInto(t, proj, dest, m.opts)
			if got := listing(t, outside, true); !maps.Equal(got, before) {
				t.Errorf("outside the workspace changed:\n got %v\nwant %v", got, before)
			}
			wantFiles(t, dest, map[string]string{
				"file.txt": "changed\n", "dir/inner.txt": "changed inner\n",
				"other.txt": "other\n", "link": "-> other.txt",
			})
			if mode(t, filepath.Join(dest, "dir"))&fs.ModeSymlink != 0 {
				t.Error("dir is still a symlink")
			}
		})
	}
}

// A Take interrupted half-way (a killed run) leaves a workspace that the
// next Take completes.
func TestInterruptedSyncIsCompleted(t *testing.T) {
	gitTest(t)
	repo := newRepo(t)
	for i := range 200 {
		write(t, repo, filepath.Join("d", string(rune('a'+i%26)), time.Duration(i).String()), "content", 0o644)
	}
	commitAll(t, repo, "many")
	dest := filepath.Join(t.TempDir(), "ws")
	takeInto(t, repo, dest, Options{})
	// Half the files gone, one truncated, one directory unreadable.
	n := 0
	filepath.WalkDir(filepath.Join(dest, "d"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if n%2 == 0 {
				os.Remove(p)
			} else if n == 1 {
				os.Truncate(p, 2)
			}
			n++
		}
		return nil
	})
	if err := os.Chmod(filepath.Join(dest, "d", "b"), 0o000); err != nil {
		t.Fatal(err)
	}
	takeInto(t, repo, dest, Options{})
	fresh := filepath.Join(t.TempDir(), "fresh")
	takeInto(t, repo, fresh, Options{})
	if got, want := listing(t, dest, false), listing(t, fresh, false); !maps.Equal(got, want) {
		t.Errorf("resynchronised workspace differs from a fresh copy")
	}
}

// An earlier run may leave a read-only tree behind (Go's module cache is
// one, when GOPATH points into the workspace); the next Take removes it all
// the same. Root ignores permissions, so this only tests something for
// other users.
func TestReadOnlyLeftoversAreRemoved(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores permissions")
	}
	proj := filepath.Join(t.TempDir(), "plain")
	write(t, proj, "main.go", "package main\n", 0o644)
	write(t, proj, "src/kept.go", "package src\n", 0o644)
	dest := filepath.Join(t.TempDir(), "ws")
	takeInto(t, proj, dest, Options{})

	write(t, dest, ".gopath/pkg/mod/example.com/m@v1/m.go", "package m\n", 0o444)
	write(t, dest, "src/new.go", "package src\n", 0o444)
	for _, d := range []string{".gopath/pkg/mod/example.com/m@v1", ".gopath/pkg/mod/example.com", ".gopath/pkg/mod", "src"} {
		if err := os.Chmod(filepath.Join(dest, d), 0o555); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { exec.Command("chmod", "-R", "u+w", dest).Run() })
	takeInto(t, proj, dest, Options{})
	wantFiles(t, dest, map[string]string{"main.go": "package main\n", "src/kept.go": "package src\n"})
}
