package source

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// gitTest isolates git from the machine's configuration so commits work
// anywhere and nothing outside the test's directories is read.
func gitTest(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	t.Setenv("GIT_CONFIG_GLOBAL", os.DevNull)
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	// Keep discovery from wandering into a repository around the temp dir.
	t.Setenv("GIT_CEILING_DIRECTORIES", filepath.Dir(home))
}

// run runs git in dir and returns its trimmed output.
func run(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{
		"-c", "user.name=Test", "-c", "user.email=test@example.com",
		"-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false",
		"-c", "tag.gpgsign=false", "-c", "protocol.file.allow=always",
	}, args...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func write(t *testing.T, dir, rel, content string, perm fs.FileMode) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, perm); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, dir, target, rel string) {
	t.Helper()
	if err := os.Symlink(target, filepath.Join(dir, filepath.FromSlash(rel))); err != nil {
		t.Fatal(err)
	}
}

func newRepo(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, dir, "init", "-q")
	return dir
}

func commitAll(t *testing.T, dir, msg string) string {
	t.Helper()
	run(t, dir, "add", "-A")
	run(t, dir, "commit", "-q", "-m", msg)
	return run(t, dir, "rev-parse", "HEAD")
}

// take runs Take into a fresh workspace and fails the test on error.
func take(t *testing.T, dir string, opts Options) (Snapshot, string) {
	t.Helper()
	dest := filepath.Join(t.TempDir(), "ws")
	snap, err := Take(context.Background(), dir, dest, opts)
	if err != nil {
		t.Fatalf("Take(%s, %+v): %v", dir, opts, err)
	}
	if snap.Dir != dest {
		t.Errorf("Dir = %q, want %q", snap.Dir, dest)
	}
	checkManifest(t, snap)
	return snap, dest
}

// listing describes every entry under dir: kind, permission bits and a
// content hash (or link target), keyed by slash path. Directories are
// listed so that empty ones count.
func listing(t *testing.T, dir string, withTimes bool) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		var desc string
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			desc = "link -> " + target
		case fi.IsDir():
			desc = "dir"
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			desc = fmt.Sprintf("file %o %s", fi.Mode().Perm(), hex.EncodeToString(sum[:8]))
		}
		if withTimes {
			desc += " " + fi.ModTime().String()
		}
		got[filepath.ToSlash(rel)] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// files returns the regular files and symlinks under dir with their content
// (or "-> target"), keyed by slash path.
func files(t *testing.T, dir string) map[string]string {
	t.Helper()
	got := map[string]string{}
	for rel, desc := range listing(t, dir, false) {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		switch {
		case strings.HasPrefix(desc, "link"):
			target, _ := os.Readlink(p)
			got[rel] = "-> " + target
		case desc != "dir":
			b, _ := os.ReadFile(p)
			got[rel] = string(b)
		}
	}
	return got
}

func wantFiles(t *testing.T, dir string, want map[string]string) {
	t.Helper()
	got := files(t, dir)
	if !maps.Equal(got, want) {
		t.Errorf("workspace files:\n got %q\nwant %q", got, want)
	}
}

func mode(t *testing.T, p string) fs.FileMode {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode()
}

func TestCleanRepo(t *testing.T) {
	gitTest(t)
	repo := newRepo(t)
	write(t, repo, "a.txt", "a\n", 0o644)
	write(t, repo, "sub/deeper/b.txt", "b\n", 0o644)
	write(t, repo, "empty", "", 0o644)
	head := commitAll(t, repo, "first")

	snap, dest := take(t, repo, Options{})
	want := Snapshot{Dir: dest, Git: true, Commit: head, Branch: "main", Files: 3, Written: 3, Read: 3}
	snap.Manifest = nil           // compared with the workspace in manifest tests
	snap.CommitTime = time.Time{} // see TestCommitTime
	if !reflect.DeepEqual(snap, want) {
		t.Errorf("snapshot = %+v, want %+v", snap, want)
	}
	wantFiles(t, dest, map[string]string{"a.txt": "a\n", "sub/deeper/b.txt": "b\n", "empty": ""})
}

// The snapshot carries its commit's committer date, from the work tree
// as from a revision: lead time for changes counts from it.
func TestCommitTime(t *testing.T) {
	gitTest(t)
	repo := newRepo(t)
	write(t, repo, "a.txt", "one\n", 0o644)
	t.Setenv("GIT_AUTHOR_DATE", "2026-01-01T08:00:00Z")
	t.Setenv("GIT_COMMITTER_DATE", "2026-03-04T05:06:07+02:00")
	first := commitAll(t, repo, "one")
	write(t, repo, "a.txt", "two\n", 0o644)
	t.Setenv("GIT_COMMITTER_DATE", "2026-03-05T00:00:00Z")
	commitAll(t, repo, "two")

	snap, _ := take(t, repo, Options{})
	if want := time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC); !snap.CommitTime.Equal(want) {
		t.Errorf("work tree's commit time = %v, want the committer date %v", snap.CommitTime, want)
	}
	snap, _ = take(t, repo, Options{Rev: first})
	if want := time.Date(2026, 3, 4, 3, 6, 7, 0, time.UTC); !snap.CommitTime.Equal(want) {
		t.Errorf("revision's commit time = %v, want the committer date %v (not the author's)", snap.CommitTime, want)
	}

	// A workspace keeps the date of the commit it was taken at; a file
	// that names another commit, or is cut short, is not believed.
	index := filepath.Join(t.TempDir(), "ws.index")
	for _, kept := range []string{"", first + " 2020-01-01T00:00:00Z\n", "2026-"} {
		if kept != "" {
			write(t, filepath.Dir(index), "ws.index.commit", kept, 0o600)
		}
		for i := 0; i < 2; i++ {
			snap, _ = take(t, repo, Options{Index: index})
			if want := time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC); !snap.CommitTime.Equal(want) {
				t.Errorf("kept %q, take %d: commit time = %v, want %v", kept, i+1, snap.CommitTime, want)
			}
		}
	}

	plain := t.TempDir()
	write(t, plain, "a.txt", "x\n", 0o644)
	if snap, _ := take(t, plain, Options{}); !snap.CommitTime.IsZero() {
		t.Errorf("a directory outside git has commit time %v, want none", snap.CommitTime)
	}
}

func TestWorkTreeChanges(t *testing.T) {
	gitTest(t)
	repo := newRepo(t)
	write(t, repo, ".gitignore", "*.log\nbuild/\n", 0o644)
	write(t, repo, "kept.txt", "old\n", 0o644)
	write(t, repo, "deleted.txt", "bye\n", 0o644)
	write(t, repo, "dir/gone.txt", "bye\n", 0o644)
	commitAll(t, repo, "first")

	write(t, repo, "kept.txt", "new\n", 0o644)
	write(t, repo, "untracked.txt", "fresh\n", 0o644)
	write(t, repo, "newdir/x.txt", "x\n", 0o644)
	write(t, repo, "debug.log", "ignored\n", 0o644)
	write(t, repo, "build/out.bin", "ignored\n", 0o644)
	for _, p := range []string{"deleted.txt", "dir"} {
		if err := os.RemoveAll(filepath.Join(repo, p)); err != nil {
			t.Fatal(err)
		}
	}

	snap, dest := take(t, repo, Options{})
	wantFiles(t, dest, map[string]string{
		".gitignore":    "*.log\nbuild/\n",
		"kept.txt":      "new\n",
		"untracked.txt": "fresh\n",
		"newdir/x.txt":  "x\n",
	})
	if !snap.Dirty || snap.Files != 4 {
		t.Errorf("snapshot = %+v, want Dirty and 4 files", snap)
	}
	// kept.txt, deleted.txt, dir/gone.txt, untracked.txt, newdir/
	if want := "includes uncommitted changes (5 paths)"; snap.Note != want {
		t.Errorf("Note = %q, want %q", snap.Note, want)
	}
}

func TestSubdirectoryProject(t *testing.T) {
	gitTest(t)
	repo := newRepo(t)
	write(t, repo, "top.txt", "top\n", 0o644)
	write(t, repo, "proj/a.txt", "a\n", 0o644)
	write(t, repo, "proj/x/b.txt", "b\n", 0o644)
	write(t, repo, "other/c.txt", "c\n", 0o644)
	first := commitAll(t, repo, "first")
	write(t, repo, "proj/a.txt", "a2\n", 0o644)
	commitAll(t, repo, "second")

	// Changes outside the project do not make it dirty.
	write(t, repo, "top.txt", "changed\n", 0o644)
	write(t, repo, "other/untracked.txt", "u\n", 0o644)
	proj := filepath.Join(repo, "proj")
	snap, dest := take(t, proj, Options{})
	wantFiles(t, dest, map[string]string{"a.txt": "a2\n", "x/b.txt": "b\n"})
	if !snap.Git || snap.Dirty || snap.Note != "" {
		t.Errorf("snapshot = %+v, want clean git", snap)
	}

	write(t, repo, "proj/new.txt", "n\n", 0o644)
	snap, dest = take(t, proj, Options{})
	wantFiles(t, dest, map[string]string{"a.txt": "a2\n", "x/b.txt": "b\n", "new.txt": "n\n"})
	if !snap.Dirty {
		t.Errorf("snapshot = %+v, want dirty", snap)
	}

	snap, dest = take(t, proj, Options{Rev: first})
	wantFiles(t, dest, map[string]string{"a.txt": "a\n", "x/b.txt": "b\n"})
	if snap.Commit != first {
		t.Errorf("Commit = %q, want %q", snap.Commit, first)
	}
}

func TestRevGetsCommittedContent(t *testing.T) {
	gitTest(t)
	repo := newRepo(t)
	write(t, repo, "a.txt", "one\n", 0o644)
	write(t, repo, "run.sh", "#!/bin/sh\n", 0o755)
	write(t, repo, ".gitattributes", "a.txt export-subst\nrun.sh export-ignore\n", 0o644)
	symlink(t, repo, "a.txt", "link")
	v1 := commitAll(t, repo, "one")
	run(t, repo, "tag", "-a", "-m", "v1", "v1")
	write(t, repo, "a.txt", "two $Format:%H$\n", 0o644)
	v2 := commitAll(t, repo, "two")
	write(t, repo, "a.txt", "three\n", 0o644)
	write(t, repo, "untracked.txt", "u\n", 0o644)

	snap, dest := take(t, repo, Options{Rev: "v1"})
	wantFiles(t, dest, map[string]string{
		".gitattributes": "a.txt export-subst\nrun.sh export-ignore\n",
		"a.txt":          "one\n",
		"run.sh":         "#!/bin/sh\n",
		"link":           "-> a.txt",
	})
	if snap.Commit != v1 || snap.Branch != "" || snap.Dirty || !snap.Git || snap.Files != 4 {
		t.Errorf("snapshot = %+v, want commit %s, no branch, clean", snap, v1)
	}
	if m := mode(t, filepath.Join(dest, "run.sh")); m.Perm() != 0o755 {
		t.Errorf("run.sh mode = %v, want 0755", m)
	}

	// export-subst must not apply: the copy is the commit's bytes.
	snap, dest = take(t, repo, Options{Rev: "main"})
	if got := files(t, dest)["a.txt"]; got != "two $Format:%H$\n" {
		t.Errorf("a.txt = %q", got)
	}
	if snap.Commit != v2 || snap.Branch != "main" {
		t.Errorf("snapshot = %+v, want commit %s on main", snap, v2)
	}

	snap, _ = take(t, repo, Options{Rev: v2[:10]})
	if snap.Commit != v2 || snap.Branch != "" {
		t.Errorf("snapshot = %+v, want commit %s, no branch", snap, v2)
	}
}

// A server's mirror of a project is a bare repository: a commit of it
// is copied from its objects, as from a work tree's repository.
func TestRevOfBareRepository(t *testing.T) {
	gitTest(t)
	repo := newRepo(t)
	write(t, repo, "a.txt", "one\n", 0o644)
	first := commitAll(t, repo, "one")
	write(t, repo, "a.txt", "two\n", 0o644)
	second := commitAll(t, repo, "two")
	bare := filepath.Join(t.TempDir(), "mirror.git")
	run(t, filepath.Dir(bare), "clone", "-q", "--mirror", repo, bare)

	snap, dest := take(t, bare, Options{Rev: first})
	wantFiles(t, dest, map[string]string{"a.txt": "one\n"})
	if snap.Commit != first || !snap.Git || snap.Dirty {
		t.Errorf("snapshot = %+v, want commit %s", snap, first)
	}
	snap, _ = take(t, bare, Options{Rev: "main"})
	if snap.Commit != second || snap.Branch != "main" {
		t.Errorf("snapshot = %+v, want commit %s on main", snap, second)
	}
	if _, err := Take(context.Background(), bare, filepath.Join(t.TempDir(), "ws"), Options{Rev: "nope"}); !errors.Is(err, ErrUnknownRev) {
		t.Errorf("unknown revision of a bare repository: %v, want ErrUnknownRev", err)
	}
}

func TestUnknownRev(t *testing.T) {
	gitTest(t)
	repo := newRepo(t)
	write(t, repo, "a.txt", "a\n", 0o644)
	commitAll(t, repo, "first")

	for _, rev := range []string{"no-such-branch", "-x", "deadbeef"} {
		dest := filepath.Join(t.TempDir(), "ws")
		_, err := Take(context.Background(), repo, dest, Options{Rev: rev})
		if !errors.Is(err, ErrUnknownRev) || !strings.Contains(err.Error(), rev) {
			t.Errorf("Take(rev %q) error = %v, want ErrUnknownRev naming it", rev, err)
		}
		if _, err := os.Stat(dest); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Take(rev %q) left %s behind", rev, dest)
		}
	}

	// A revision in which the project directory did not exist yet.
	write(t, repo, "later/b.txt", "b\n", 0o644)
	commitAll(t, repo, "second")
	_, err := Take(context.Background(), filepath.Join(repo, "later"), filepath.Join(t.TempDir(), "ws"), Options{Rev: "HEAD~1"})
	if err == nil || !strings.Contains(err.Error(), `no directory "later/"`) {
		t.Errorf("Take(project missing in rev) error = %v", err)
	}
}

func TestRevNeedsGit(t *testing.T) {
	gitTest(t)
	dir := t.TempDir()
	write(t, dir, "a", "a", 0o644)
	_, err := Take(context.Background(), dir, filepath.Join(t.TempDir(), "ws"), Options{Rev: "main"})
	if err == nil || !strings.Contains(err.Error(), "not a git repository") {
		t.Errorf("error = %v, want not a git repository", err)
	}
}

func TestModesAndSymlinks(t *testing.T) {
	gitTest(t)
	repo := newRepo(t)
	write(t, repo, "run.sh", "#!/bin/sh\necho hi\n", 0o755)
	write(t, repo, "plain.txt", "p\n", 0o644)
	write(t, repo, "sub/inner.txt", "i\n", 0o644)
	symlink(t, repo, "plain.txt", "rel-link")
	symlink(t, repo, "sub", "dir-link")
	symlink(t, repo, "../../outside/secret", "escaping-link")
	symlink(t, repo, "/etc/passwd", "abs-link")
	commitAll(t, repo, "first")

	check := func(t *testing.T, dest string) {
		t.Helper()
		if m := mode(t, filepath.Join(dest, "run.sh")); m.Perm() != 0o755 {
			t.Errorf("run.sh mode = %v, want 0755", m)
		}
		if m := mode(t, filepath.Join(dest, "plain.txt")); m.Perm() != 0o644 {
			t.Errorf("plain.txt mode = %v, want 0644", m)
		}
		for link, target := range map[string]string{
			"rel-link": "plain.txt", "dir-link": "sub",
			"escaping-link": "../../outside/secret", "abs-link": "/etc/passwd",
		} {
			p := filepath.Join(dest, link)
			if m := mode(t, p); m&fs.ModeSymlink == 0 {
				t.Errorf("%s mode = %v, want a symlink", link, m)
				continue
			}
			if got, _ := os.Readlink(p); got != target {
				t.Errorf("%s -> %q, want %q", link, got, target)
			}
		}
	}
	t.Run("worktree", func(t *testing.T) {
		_, dest := take(t, repo, Options{})
		check(t, dest)
	})
	t.Run("rev", func(t *testing.T) {
		_, dest := take(t, repo, Options{Rev: "HEAD"})
		check(t, dest)
	})
	t.Run("plain", func(t *testing.T) {
		plain := t.TempDir()
		if err := os.CopyFS(plain, os.DirFS(repo)); err != nil {
			t.Fatal(err)
		}
		if err := os.RemoveAll(filepath.Join(plain, ".git")); err != nil {
			t.Fatal(err)
		}
		// CopyFS keeps only the executable bits; make the symlinks real.
		for _, l := range []string{"rel-link", "dir-link", "escaping-link", "abs-link"} {
			os.RemoveAll(filepath.Join(plain, l))
			target, _ := os.Readlink(filepath.Join(repo, l))
			symlink(t, plain, target, l)
		}
		snap, dest := take(t, plain, Options{})
		if snap.Git {
			t.Errorf("snapshot = %+v, want not git", snap)
		}
		check(t, dest)
	})
}

func TestExecutableBitInWorkTree(t *testing.T) {
	gitTest(t)
	repo := newRepo(t)
	write(t, repo, "tool", "x", 0o644)
	commitAll(t, repo, "first")
	// Made executable after the commit, and an untracked private file.
	if err := os.Chmod(filepath.Join(repo, "tool"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, repo, "private", "p", 0o600)
	_, dest := take(t, repo, Options{})
	if m := mode(t, filepath.Join(dest, "tool")); m.Perm() != 0o755 {
		t.Errorf("tool mode = %v, want 0755", m)
	}
	if m := mode(t, filepath.Join(dest, "private")); m.Perm() != 0o600 {
		t.Errorf("private mode = %v, want 0600", m)
	}
}

func TestNotGit(t *testing.T) {
	gitTest(t)
	dir := filepath.Join(t.TempDir(), "proj")
	write(t, dir, "a.txt", "a\n", 0o644)
	write(t, dir, "bin/run", "#!/bin/sh\n", 0o755)
	write(t, dir, "deep/er/est/f", "f", 0o644)
	write(t, dir, "empty", "", 0o644)
	write(t, dir, ".git/config", "stray", 0o644)
	write(t, dir, "nested/.git", "gitdir: /nowhere", 0o644)
	if err := os.MkdirAll(filepath.Join(dir, "emptydir"), 0o755); err != nil {
		t.Fatal(err)
	}
	symlink(t, dir, "a.txt", "link")

	snap, dest := take(t, dir, Options{})
	if snap.Git || snap.Commit != "" || snap.Dirty || snap.Files != 5 ||
		snap.Note != "not a git repository: running the directory as it is" {
		t.Errorf("snapshot = %+v", snap)
	}
	want := listing(t, dir, false)
	delete(want, ".git")
	delete(want, ".git/config")
	delete(want, "nested/.git")
	if got := listing(t, dest, false); !maps.Equal(got, want) {
		t.Errorf("workspace:\n got %v\nwant %v", got, want)
	}
}

func TestWorkspaceInsideProject(t *testing.T) {
	gitTest(t)
	dir := t.TempDir()
	write(t, dir, "a.txt", "a\n", 0o644)
	dest := filepath.Join(dir, ".velocity", "ws")
	snap, err := Take(context.Background(), dir, dest, Options{})
	if err != nil {
		t.Fatal(err)
	}
	wantFiles(t, dest, map[string]string{"a.txt": "a\n"})
	if snap.Files != 1 {
		t.Errorf("Files = %d, want 1", snap.Files)
	}
}

func TestNoCommitsYet(t *testing.T) {
	gitTest(t)
	repo := newRepo(t)
	write(t, repo, "staged.txt", "s\n", 0o644)
	write(t, repo, "untracked.txt", "u\n", 0o644)
	write(t, repo, "ignored.txt", "i\n", 0o644)
	write(t, repo, ".gitignore", "ignored.txt\n", 0o644)
	run(t, repo, "add", "staged.txt")

	snap, dest := take(t, repo, Options{})
	wantFiles(t, dest, map[string]string{"staged.txt": "s\n", "untracked.txt": "u\n", ".gitignore": "ignored.txt\n"})
	if !snap.Git || snap.Commit != "" || snap.Branch != "main" || !snap.Dirty ||
		!strings.Contains(snap.Note, "no commits yet") {
		t.Errorf("snapshot = %+v", snap)
	}
}

func TestDetachedHead(t *testing.T) {
	gitTest(t)
	repo := newRepo(t)
	write(t, repo, "a", "1", 0o644)
	first := commitAll(t, repo, "first")
	write(t, repo, "a", "2", 0o644)
	commitAll(t, repo, "second")
	run(t, repo, "checkout", "-q", "--detach", first)
	snap, dest := take(t, repo, Options{})
	if snap.Commit != first || snap.Branch != "" || snap.Dirty {
		t.Errorf("snapshot = %+v", snap)
	}
	wantFiles(t, dest, map[string]string{"a": "1"})
}

func TestAwkwardNames(t *testing.T) {
	gitTest(t)
	names := []string{
		"with space.txt", "dir with space/inner file", "ünïcödé/日本語.txt",
		"new\nline", "tab\there", `back\slash`, `"quoted"`, "-dash",
	}
	repo := newRepo(t)
	want := map[string]string{}
	for i, n := range names {
		write(t, repo, n, fmt.Sprint(i), 0o644)
		want[n] = fmt.Sprint(i)
	}
	commitAll(t, repo, "names")
	write(t, repo, "untracked\nnewline too", "u", 0o644)

	_, dest := take(t, repo, Options{Rev: "HEAD"})
	wantFiles(t, dest, want)

	want["untracked\nnewline too"] = "u"
	snap, dest := take(t, repo, Options{})
	wantFiles(t, dest, want)
	if !snap.Dirty {
		t.Errorf("snapshot = %+v, want dirty", snap)
	}
}

func TestSourceUntouched(t *testing.T) {
	gitTest(t)
	repo := newRepo(t)
	write(t, repo, ".gitignore", "*.log\n", 0o644)
	write(t, repo, "a.txt", "a\n", 0o644)
	write(t, repo, "sub/b.txt", "b\n", 0o755)
	symlink(t, repo, "a.txt", "link")
	commitAll(t, repo, "first")
	write(t, repo, "sub/b.txt", "changed\n", 0o755)
	write(t, repo, "new.txt", "n\n", 0o644)
	write(t, repo, "x.log", "l\n", 0o644)
	run(t, repo, "add", "new.txt")
	// Touch a tracked file without changing it so its index entry is stale:
	// a `git status` that refreshes the index would rewrite .git/index.
	write(t, repo, "a.txt", "a\n", 0o644)

	status := func() string {
		cmd := exec.Command("git", "status", "--porcelain", "-z", "--ignored")
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "GIT_OPTIONAL_LOCKS=0")
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	beforeStatus, before := status(), listing(t, repo, true)
	for _, opts := range []Options{{}, {Rev: "HEAD"}, {Rev: "no-such-rev"}} {
		Take(context.Background(), repo, filepath.Join(t.TempDir(), "ws"), opts)
	}
	Take(context.Background(), filepath.Join(repo, "sub"), filepath.Join(t.TempDir(), "ws"), Options{})
	after := listing(t, repo, true)
	keys := slices.Sorted(maps.Keys(before))
	keys = append(keys, slices.Sorted(maps.Keys(after))...)
	for _, k := range slices.Compact(slices.Sorted(slices.Values(keys))) {
		if before[k] != after[k] {
			t.Errorf("changed: %s: %q -> %q", k, before[k], after[k])
		}
	}
	if afterStatus := status(); afterStatus != beforeStatus {
		t.Errorf("git status changed:\n%q\n%q", beforeStatus, afterStatus)
	}
}

func TestNestedRepositories(t *testing.T) {
	gitTest(t)
	lib := newRepo(t)
	write(t, lib, "lib.go", "package lib\n", 0o644)
	commitAll(t, lib, "lib")

	repo := newRepo(t)
	write(t, repo, "main.go", "package main\n", 0o644)
	run(t, repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", lib, "vendor/lib")
	// An uninitialised submodule path, as after a clone without --recursive.
	commitAll(t, repo, "with submodule")
	write(t, repo, "vendor/lib/build.out", "local\n", 0o644)
	write(t, repo, "vendor/lib/.gitignore", "*.out\n", 0o644)

	inner := filepath.Join(repo, "inner")
	if err := os.Mkdir(inner, 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, inner, "init", "-q")
	write(t, inner, ".gitignore", "secret\n", 0o644)
	write(t, inner, "code", "c\n", 0o644)
	write(t, inner, "secret", "s\n", 0o644)

	_, dest := take(t, repo, Options{})
	wantFiles(t, dest, map[string]string{
		".gitmodules":           files(t, repo)[".gitmodules"],
		"main.go":               "package main\n",
		"vendor/lib/lib.go":     "package lib\n",
		"vendor/lib/.gitignore": "*.out\n",
		"inner/.gitignore":      "secret\n",
		"inner/code":            "c\n",
	})

	// A commit's submodule is an empty directory, as in a fresh clone.
	_, dest = take(t, repo, Options{Rev: "HEAD"})
	if fi, err := os.Lstat(filepath.Join(dest, "vendor", "lib")); err != nil || !fi.IsDir() {
		t.Errorf("vendor/lib in rev copy: %v, %v", fi, err)
	}
}

func TestSymlinkedDirectoryNotFollowed(t *testing.T) {
	gitTest(t)
	outside := t.TempDir()
	write(t, outside, "f", "outside\n", 0o644)
	repo := newRepo(t)
	write(t, repo, "d/f", "inside\n", 0o644)
	commitAll(t, repo, "first")
	// Replace the tracked directory by a symlink out of the tree: the index
	// still lists d/f, which must not be read through the link.
	if err := os.RemoveAll(filepath.Join(repo, "d")); err != nil {
		t.Fatal(err)
	}
	symlink(t, repo, outside, "d")
	_, dest := take(t, repo, Options{})
	wantFiles(t, dest, map[string]string{"d": "-> " + outside})
}

// hostileCommit makes a commit whose root tree has the given entries
// ("<mode> <type> <object>\t<name>" lines), bypassing checks git applies
// when it builds trees itself.
func hostileCommit(t *testing.T, repo string, entries ...string) string {
	t.Helper()
	cmd := exec.Command("git", "mktree")
	cmd.Dir = repo
	cmd.Stdin = strings.NewReader(strings.Join(entries, "\n") + "\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("mktree: %v", err)
	}
	return run(t, repo, "commit-tree", "-m", "hostile", strings.TrimSpace(string(out)))
}

func TestHostileTrees(t *testing.T) {
	gitTest(t)
	repo := newRepo(t)
	write(t, repo, "x", "payload\n", 0o644)
	commitAll(t, repo, "first")
	blob := run(t, repo, "rev-parse", "HEAD:x")
	sub := run(t, repo, "rev-parse", "HEAD^{tree}") // a tree holding "x"
	outsideLink := hashBlob(t, repo, t.TempDir())

	cases := map[string][]string{
		"dotdot tree":   {"040000 tree " + sub + "\t.."},
		"dotdot blob":   {"100644 blob " + blob + "\t.."},
		"dot git":       {"040000 tree " + sub + "\t.git"},
		"dot GIT":       {"040000 tree " + sub + "\t.GIT"},
		"link then dir": {"120000 blob " + outsideLink + "\tl", "040000 tree " + sub + "\tl"},
		"dir then file": {"040000 tree " + sub + "\td", "100644 blob " + blob + "\td"},
	}
	for name, entries := range cases {
		t.Run(name, func(t *testing.T) {
			commit := hostileCommit(t, repo, entries...)
			parent := t.TempDir()
			dest := filepath.Join(parent, "ws")
			_, err := Take(context.Background(), repo, dest, Options{Rev: commit})
			if err == nil {
				t.Fatalf("Take of hostile tree succeeded: %v", listing(t, parent, false))
			}
			t.Log(err)
			if got := listing(t, parent, false); len(got) != 0 {
				t.Errorf("left behind: %v", got)
			}
		})
	}
}

// hashBlob stores content as a blob and returns its id.
func hashBlob(t *testing.T, repo, content string) string {
	t.Helper()
	cmd := exec.Command("git", "hash-object", "-w", "--stdin")
	cmd.Dir = repo
	cmd.Stdin = strings.NewReader(content)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

func TestLocalPath(t *testing.T) {
	for _, p := range []string{"a", "a/b", "a b/ü", "..a", "a..", ".gitignore", "x/.github/y"} {
		if _, err := localPath(p); err != nil {
			t.Errorf("localPath(%q) = %v, want ok", p, err)
		}
	}
	for _, p := range []string{"", "/abs", "../x", "a/../../x", "a/..", ".", "a//b", "a/", "./a", ".git", "a/.git/config", ".Git/x", "a\x00b"} {
		if _, err := localPath(p); !errors.Is(err, errUnsafePath) {
			t.Errorf("localPath(%q) = %v, want errUnsafePath", p, err)
		}
	}
}

func TestCancelled(t *testing.T) {
	gitTest(t)
	repo := newRepo(t)
	write(t, repo, "a", "a", 0o644)
	commitAll(t, repo, "first")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, opts := range []Options{{}, {Rev: "HEAD"}} {
		dest := filepath.Join(t.TempDir(), "ws")
		if _, err := Take(ctx, repo, dest, opts); !errors.Is(err, context.Canceled) {
			t.Errorf("Take(%+v) error = %v, want context.Canceled", opts, err)
		}
		if _, err := os.Stat(dest); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Take(%+v) left %s behind", opts, dest)
		}
	}
}

func TestManyFiles(t *testing.T) {
	gitTest(t)
	repo := newRepo(t)
	want := map[string]string{}
	for i := range 600 {
		rel := fmt.Sprintf("d%02d/f%03d", i%17, i)
		content := strings.Repeat(fmt.Sprint(i), i)
		write(t, repo, rel, content, 0o644)
		want[rel] = content
	}
	commitAll(t, repo, "many")
	for _, opts := range []Options{{}, {Rev: "HEAD"}} {
		snap, dest := take(t, repo, opts)
		wantFiles(t, dest, want)
		if snap.Files != len(want) {
			t.Errorf("Files = %d, want %d", snap.Files, len(want))
		}
	}
}

// BenchmarkTake copies a repository of 2,000 small files and a few large
// ones, from the work tree and from a commit.
func BenchmarkTake(b *testing.B) {
	if _, err := exec.LookPath("git"); err != nil {
		b.Skip("git not installed")
	}
	home := b.TempDir()
	b.Setenv("HOME", home)
	b.Setenv("GIT_CONFIG_GLOBAL", os.DevNull)
	b.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	repo := filepath.Join(b.TempDir(), "repo")
	small := strings.Repeat("x", 4<<10)
	large := strings.Repeat("y", 4<<20)
	for i := range 2000 {
		p := filepath.Join(repo, fmt.Sprintf("d%02d", i%50), fmt.Sprintf("f%04d", i))
		content := small
		if i%500 == 0 {
			content = large
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
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
	for name, opts := range map[string]Options{"worktree": {}, "rev": {Rev: "HEAD"}} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				dest := filepath.Join(b.TempDir(), "ws")
				if _, err := Take(context.Background(), repo, dest, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
