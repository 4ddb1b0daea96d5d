package source

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/artifact"
)

// pastRacy waits until stat data taken now can no longer be mistaken for
// a later write in the same clock tick (see fileState.racy).
func pastRacy() { time.Sleep(60 * time.Millisecond) }

// takeIndexed runs Take into dest with the index kept beside it.
func takeIndexed(t *testing.T, dir, dest string, opts Options) Snapshot {
	t.Helper()
	opts.Index = dest + ".index"
	return takeInto(t, dir, dest, opts)
}

// checkManifest fails the test unless the manifest Take returned is what
// hashing its workspace gives, as the engine would without it.
func checkManifest(t *testing.T, snap Snapshot) {
	t.Helper()
	want, err := artifact.HashPresent(snap.Dir, []string{"**"})
	if err != nil {
		t.Fatal(err)
	}
	if len(want) == 0 && len(snap.Manifest) == 0 {
		return
	}
	if !reflect.DeepEqual(snap.Manifest, want) {
		t.Errorf("manifest of Take differs from the workspace hashed:\n got  %v\n want %v", snap.Manifest, want)
	}
}

// treeOf lists rev's tree at the top of repo as "mode oid" (or the link
// target for a symlink) by slash path, as git has it.
func treeOf(t *testing.T, repo, rev string) map[string]string {
	t.Helper()
	want := map[string]string{}
	for _, rec := range strings.Split(run(t, repo, "ls-tree", "-r", "-z", rev), "\x00") {
		if rec == "" {
			continue
		}
		meta, name, _ := strings.Cut(rec, "\t")
		f := strings.Fields(meta)
		if f[0] == "120000" {
			want[name] = "link " + run(t, repo, "cat-file", "blob", f[2])
		} else {
			want[name] = f[0] + " " + f[2]
		}
	}
	return want
}

// workspaceAsTree describes the workspace the way treeOf describes a
// commit: each file hashed as a git blob, with git's mode.
func workspaceAsTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			target, err := os.Readlink(p)
			got[filepath.ToSlash(rel)] = "link " + target
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		h := sha1.New()
		fmt.Fprintf(h, "blob %d\x00", len(b))
		h.Write(b)
		mode := "100644"
		if fi.Mode().Perm()&0o100 != 0 {
			mode = "100755"
		}
		got[filepath.ToSlash(rel)] = mode + " " + hex.EncodeToString(h.Sum(nil))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// sameAsCommit fails the test unless the workspace holds exactly rev's
// tree, byte for byte.
func sameAsCommit(t *testing.T, dest, repo, rev string) {
	t.Helper()
	got, want := workspaceAsTree(t, dest), treeOf(t, repo, rev)
	if !maps.Equal(got, want) {
		for p, w := range want {
			if got[p] != w {
				t.Errorf("%s: workspace has %q, commit has %q", p, got[p], w)
			}
		}
		for p, g := range got {
			if _, ok := want[p]; !ok {
				t.Errorf("%s: workspace has %q, commit has nothing", p, g)
			}
		}
		t.FailNow()
	}
}

// An unchanged project is recognised from stat data alone: no file of the
// project or of the workspace is read, and the manifest is the same.
func TestIndexUnchangedRunReadsNothing(t *testing.T) {
	gitTest(t)
	for _, rev := range []string{"", "HEAD"} {
		t.Run("rev="+rev, func(t *testing.T) {
			repo := newRepo(t)
			for i := range 50 {
				write(t, repo, fmt.Sprintf("d%d/f%d.txt", i%5, i), strings.Repeat("x", i), 0o644)
			}
			write(t, repo, "run.sh", "#!/bin/sh\n", 0o755)
			symlink(t, repo, "run.sh", "link")
			commitAll(t, repo, "first")
			dest := filepath.Join(t.TempDir(), "ws")
			first := takeIndexed(t, repo, dest, Options{Rev: rev})
			if first.Read != first.Files-1 { // the symlink is not read
				t.Errorf("first Take read %d files, want %d", first.Read, first.Files-1)
			}
			pastRacy()
			takeIndexed(t, repo, dest, Options{Rev: rev}) // files written by the first are verified once
			pastRacy()
			before := listing(t, dest, true)
			again := takeIndexed(t, repo, dest, Options{Rev: rev})
			if again.Read != 0 || again.Written != 0 || again.Removed != 0 {
				t.Errorf("unchanged Take read %d, wrote %d, removed %d files; want none", again.Read, again.Written, again.Removed)
			}
			if !reflect.DeepEqual(again.Manifest, first.Manifest) {
				t.Errorf("manifest changed although nothing did")
			}
			if after := listing(t, dest, true); !maps.Equal(before, after) {
				t.Errorf("unchanged Take touched the workspace")
			}

			write(t, repo, "d1/f1.txt", "y", 0o644)
			if rev != "" {
				commitAll(t, repo, "one file")
			}
			pastRacy()
			one := takeIndexed(t, repo, dest, Options{Rev: rev})
			if one.Written != 1 || one.Read > 1 {
				t.Errorf("after one change Take wrote %d and read %d files; want 1 and at most 1", one.Written, one.Read)
			}
			if got := files(t, dest)["d1/f1.txt"]; got != "y" {
				t.Errorf("changed file has %q", got)
			}
		})
	}
}

// Each kind of change is applied in place, right after the previous Take
// (inside the window where stat data could miss it), and leaves the
// workspace holding exactly the project.
func TestIndexInPlaceUpdates(t *testing.T) {
	gitTest(t)
	steps := []struct {
		name   string
		change func(t *testing.T, repo string)
	}{
		{"add", func(t *testing.T, repo string) { write(t, repo, "new/deep/file", "new", 0o644) }},
		{"same size", func(t *testing.T, repo string) { write(t, repo, "a.txt", "A\n", 0o644) }},
		{"delete", func(t *testing.T, repo string) { os.Remove(filepath.Join(repo, "b.txt")) }},
		{"executable", func(t *testing.T, repo string) { os.Chmod(filepath.Join(repo, "a.txt"), 0o755) }},
		{"not executable", func(t *testing.T, repo string) { os.Chmod(filepath.Join(repo, "a.txt"), 0o644) }},
		{"link target", func(t *testing.T, repo string) {
			os.Remove(filepath.Join(repo, "link"))
			symlink(t, repo, "new/deep/file", "link")
		}},
		{"dir to file", func(t *testing.T, repo string) {
			os.RemoveAll(filepath.Join(repo, "dir"))
			write(t, repo, "dir", "was a directory", 0o644)
		}},
		{"file to dir", func(t *testing.T, repo string) {
			os.Remove(filepath.Join(repo, "c.txt"))
			write(t, repo, "c.txt/inside", "now a directory", 0o644)
		}},
		{"file to link", func(t *testing.T, repo string) {
			os.Remove(filepath.Join(repo, "a.txt"))
			symlink(t, repo, "dir", "a.txt")
		}},
		{"link to file", func(t *testing.T, repo string) {
			os.Remove(filepath.Join(repo, "link"))
			write(t, repo, "link", "a file now", 0o644)
		}},
	}
	for _, rev := range []string{"", "HEAD"} {
		// Right away, and once stat data can be trusted (directories
		// then are not listed, their entries come from the index).
		for _, wait := range []bool{false, true} {
			t.Run(fmt.Sprintf("rev=%s,wait=%v", rev, wait), func(t *testing.T) {
				repo := newRepo(t)
				write(t, repo, "a.txt", "a\n", 0o644)
				write(t, repo, "b.txt", "b\n", 0o644)
				write(t, repo, "c.txt", "c\n", 0o644)
				write(t, repo, "dir/x", "x", 0o644)
				write(t, repo, "dir/sub/y", "y", 0o644)
				symlink(t, repo, "a.txt", "link")
				commitAll(t, repo, "first")
				dest := filepath.Join(t.TempDir(), "ws")
				takeIndexed(t, repo, dest, Options{Rev: rev})
				for _, s := range steps {
					if wait {
						pastRacy()
						takeIndexed(t, repo, dest, Options{Rev: rev})
						pastRacy()
					}
					s.change(t, repo)
					commitAll(t, repo, s.name)
					takeIndexed(t, repo, dest, Options{Rev: rev})
					sameAsCommit(t, dest, repo, "HEAD")
				}
			})
		}
	}
}

// Edits made in the workspace by hand (or by a tool outside any run) are
// noticed by their stat data, even when they keep size and mtime, and
// undone by the next Take.
func TestIndexManualEditsRepaired(t *testing.T) {
	gitTest(t)
	repo := newRepo(t)
	write(t, repo, "a.txt", "aaaa", 0o644)
	write(t, repo, "b.txt", "bbbb", 0o644)
	head := commitAll(t, repo, "first")
	dest := filepath.Join(t.TempDir(), "ws")
	takeIndexed(t, repo, dest, Options{})
	pastRacy()
	takeIndexed(t, repo, dest, Options{})
	pastRacy()

	p := filepath.Join(dest, "a.txt")
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("AAAA"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	snap := takeIndexed(t, repo, dest, Options{})
	if snap.Written != 1 {
		t.Errorf("Take wrote %d files, want the edited one", snap.Written)
	}
	sameAsCommit(t, dest, repo, head)
}

// What an action leaves in the workspace is removed by the next Take,
// even in a directory whose mtime it put back: ctime still moved.
func TestIndexLeftoversRemoved(t *testing.T) {
	gitTest(t)
	repo := newRepo(t)
	write(t, repo, "dir/sub/a", "a", 0o644)
	head := commitAll(t, repo, "first")
	dest := filepath.Join(t.TempDir(), "ws")
	takeIndexed(t, repo, dest, Options{})
	pastRacy()
	takeIndexed(t, repo, dest, Options{})
	pastRacy()
	sub := filepath.Join(dest, "dir", "sub")
	fi, err := os.Stat(sub)
	if err != nil {
		t.Fatal(err)
	}
	write(t, dest, "dir/sub/left", "by an action", 0o644)
	write(t, dest, "dir/new/deeper", "by an action", 0o644)
	os.Chtimes(sub, fi.ModTime(), fi.ModTime())
	snap := takeIndexed(t, repo, dest, Options{})
	if snap.Removed != 2 {
		t.Errorf("Take removed %d entries, want 2", snap.Removed)
	}
	sameAsCommit(t, dest, repo, head)
}

// A torn or foreign index file is no index: every file is compared.
func TestIndexUnreadableIsIgnored(t *testing.T) {
	gitTest(t)
	repo := newRepo(t)
	write(t, repo, "a.txt", "a", 0o644)
	head := commitAll(t, repo, "first")
	dest := filepath.Join(t.TempDir(), "ws")
	takeIndexed(t, repo, dest, Options{})
	data, err := os.ReadFile(dest + ".index")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(dest+".index", data[:len(data)/2], 0o600)
	os.WriteFile(filepath.Join(dest, "a.txt"), []byte("b"), 0o644)
	if snap := takeIndexed(t, repo, dest, Options{}); snap.Read != 1 {
		t.Errorf("Take read %d files, want 1", snap.Read)
	}
	sameAsCommit(t, dest, repo, head)
}

// A Take killed (kill -9) in the middle of updating a workspace leaves it
// half updated, with its update marker; the next Take trusts nothing the
// index says about the workspace, verifies every file by content, and the
// workspace then holds exactly the commit.
func TestIndexCrashMidUpdate(t *testing.T) {
	gitTest(t)
	if testing.Short() {
		t.Skip("writes a few thousand files")
	}
	repo := newRepo(t)
	const n = 1500
	name := func(i int) string { return fmt.Sprintf("d%02d/f%04d", i%40, i) }
	version := func(v string) {
		for i := range n {
			write(t, repo, name(i), v+strings.Repeat(".", 8<<10), 0o644)
		}
	}
	version("A")
	a := commitAll(t, repo, "A")
	version("B")
	b := commitAll(t, repo, "B")
	dest := filepath.Join(t.TempDir(), "ws")
	index := dest + ".index"

	caught := false
	target := a
	for attempt := 0; attempt < 6 && !caught; attempt++ {
		takeIndexed(t, repo, dest, Options{Rev: target})
		if target == a {
			target = b
		} else {
			target = a
		}
		// Files are written in path order: once the first has the
		// target's content, the update is under way.
		first := filepath.Join(dest, filepath.FromSlash(name(0)))
		want := "A"
		if target == b {
			want = "B"
		}
		helper := exec.Command(os.Args[0], "-test.run=^TestHelperTake$")
		helper.Env = append(os.Environ(), "SOURCE_TEST_TAKE="+repo+"\n"+dest+"\n"+target)
		if err := helper.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { helper.Wait(); close(exited) }()
	poll:
		for {
			select {
			case <-exited:
				break poll
			default:
			}
			if c, err := os.ReadFile(first); err == nil && strings.HasPrefix(string(c), want) {
				helper.Process.Signal(os.Kill)
				<-exited
				_, err := os.Stat(updateMarker(index))
				caught = err == nil
				break poll
			}
			time.Sleep(200 * time.Microsecond)
		}
		if !caught {
			continue
		}
		last := filepath.Join(dest, filepath.FromSlash(name(n-1)))
		if c, _ := os.ReadFile(last); strings.HasPrefix(string(c), want) {
			caught = false // finished its writes before it died: try again
			continue
		}
		snap := takeIndexed(t, repo, dest, Options{Rev: target})
		if snap.Read < n/2 {
			t.Errorf("after a crash Take read %d files; want every file it did not rewrite verified", snap.Read)
		}
		if _, err := os.Stat(updateMarker(index)); err == nil {
			t.Errorf("update marker still there after a complete Take")
		}
		sameAsCommit(t, dest, repo, target)
		// And a work-tree run (HEAD is B) after the repair.
		takeIndexed(t, repo, dest, Options{})
		sameAsCommit(t, dest, repo, b)
	}
	if !caught {
		t.Skip("could not catch the helper in the middle of an update on this machine")
	}
}

// TestHelperTake is the process TestIndexCrashMidUpdate kills.
func TestHelperTake(t *testing.T) {
	arg := os.Getenv("SOURCE_TEST_TAKE")
	if arg == "" {
		t.Skip("helper process only")
	}
	f := strings.Split(arg, "\n")
	if _, err := Take(context.Background(), f[0], f[1], Options{Rev: f[2], Index: f[1] + ".index"}); err != nil {
		t.Fatal(err)
	}
}

// A Take that fails before changing anything (a mistyped revision) leaves
// the index trusted: the next run still reads nothing.
func TestIndexSurvivesFailureBeforeChanges(t *testing.T) {
	gitTest(t)
	repo := newRepo(t)
	write(t, repo, "a.txt", "a", 0o644)
	commitAll(t, repo, "first")
	dest := filepath.Join(t.TempDir(), "ws")
	takeIndexed(t, repo, dest, Options{})
	pastRacy()
	takeIndexed(t, repo, dest, Options{})
	pastRacy()
	if _, err := Take(context.Background(), repo, dest, Options{Rev: "no-such-rev", Index: dest + ".index"}); err == nil {
		t.Fatal("Take of an unknown revision succeeded")
	}
	if _, err := os.Stat(updateMarker(dest + ".index")); err == nil {
		t.Error("update marker left by a Take that changed nothing")
	}
	if snap := takeIndexed(t, repo, dest, Options{}); snap.Read != 0 {
		t.Errorf("Take read %d files, want none", snap.Read)
	}
}
