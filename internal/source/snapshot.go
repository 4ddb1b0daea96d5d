package source

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/velocity-ci/velocity/internal/artifact"
	"github.com/velocity-ci/velocity/internal/proc"
)

// Snapshot describes the copy a run works on.
type Snapshot struct {
	Dir    string // the workspace directory (== dest)
	Git    bool   // project is inside a git work tree
	Commit string // full commit SHA the copy is based on ("" when not git or no commits yet)
	// CommitTime is Commit's committer date (zero without Commit): when
	// the change was made, as opposed to when it was written.
	CommitTime time.Time
	Branch     string // current branch name ("" when detached, or when Rev isn't a local branch name)
	Dirty      bool   // the copy includes uncommitted (modified, deleted or untracked, non-ignored) changes
	Note       string // a human note, e.g. "includes uncommitted changes (3 paths)"; "" when there is nothing to say
	Files      int    // number of files in the copy (symlinks included)
	// Written counts the files and symlinks that had to be (re)written:
	// all of them in a new workspace, the changed ones in a reused one.
	Written int
	// Removed counts the entries of a reused workspace that the copy does
	// not have (left by an earlier run, or deleted from the project).
	Removed int
	// Read counts the files whose content had to be read (from the
	// project, the workspace or git): those the index did not know.
	Read int
	// Manifest describes every file and symlink of the copy, sorted by
	// path, exactly as artifact.HashPresent(Dir, "**") would right after
	// Take: the engine keys on it without reading the files again.
	Manifest []artifact.File
}

// Options selects what Take copies.
type Options struct {
	// Rev, when set, copies exactly that commit's tree (a branch, tag, SHA or
	// anything else `git rev-parse` resolves to a commit) instead of the work
	// tree. It requires the project to be in a git repository.
	Rev string
	// Index is the file that keeps what is known of the workspace's files
	// from run to run (see Workspace.Index), so that files unchanged on
	// both sides are recognised by their stat data instead of being read.
	// "" keeps none: every file is compared by content.
	Index string
}

// ErrUnknownRev is wrapped by the error Take returns when Options.Rev names
// no commit.
var ErrUnknownRev = errors.New("unknown revision")

// Take makes dest an exact copy of the project at projectDir. dest may be
// new, or hold the copy of an earlier Take (a workspace reused from run to
// run): files whose content is already right are left untouched, with
// their mtimes, so tools that keep caches keyed by path and mtime (go test,
// make, incremental compilers) see only what changed; wrong entries are
// replaced and entries the project does not have are removed, whatever
// put them there, so nothing of an earlier run leaks into this one. On
// failure a dest Take created is removed; an existing one is left partly
// synchronised, and the next Take finishes the job.
//
// Without Options.Rev it copies the work tree as it is: every tracked file
// plus untracked, non-ignored ones, as listed by git run in projectDir (so a
// project in a subdirectory of a larger repository copies only that
// subdirectory). Tracked files deleted from the work tree are not copied.
// With Options.Rev it copies that commit's tree for projectDir's path.
// Outside a git work tree the whole directory is copied, except .git.
//
// projectDir and its repository are only read, never written.
func Take(ctx context.Context, projectDir, dest string, opts Options) (snap Snapshot, err error) {
	snap.Dir = dest
	dir, err := filepath.Abs(projectDir)
	if err != nil {
		return snap, fmt.Errorf("project directory %q: %w", projectDir, err)
	}
	if fi, err := os.Stat(dir); err != nil {
		return snap, fmt.Errorf("project directory: %w", err)
	} else if !fi.IsDir() {
		return snap, fmt.Errorf("project directory %s is not a directory", dir)
	}
	if strings.HasPrefix(opts.Rev, "-") {
		// Would be read by git as an option.
		return snap, fmt.Errorf("%w %q: a revision cannot start with '-'", ErrUnknownRev, opts.Rev)
	}

	created, err := prepareDest(dest)
	if err != nil {
		return snap, err
	}
	// A marker left by an update cut short means the workspace may be
	// half updated: nothing the index says of it is trusted, and every
	// file is verified by content (and rewritten where it differs).
	interrupted, err := markUpdating(opts.Index)
	if err != nil {
		return snap, err
	}
	idx := loadIndex(opts.Index, !interrupted && !created)
	var c *copier
	defer func() {
		// A failure before anything in the workspace changed (a
		// revision that does not exist, git missing) leaves it as the
		// index says: the next run need not verify every file.
		if err != nil && !interrupted && (c == nil || !c.touched.Load()) {
			doneUpdating(opts.Index)
		}
	}()
	defer func() {
		if err != nil && created {
			os.RemoveAll(dest)
		}
	}()
	dst, err := os.OpenRoot(dest)
	if err != nil {
		return snap, fmt.Errorf("opening workspace: %w", err)
	}
	defer dst.Close()

	// A revision needs rev-parse's answers. The work tree does not: in
	// the common case, a work tree, ls-files lists it, and only when it
	// fails is rev-parse asked why (one git process fewer per run).
	var g git
	var prefix, notGit string
	if opts.Rev != "" {
		if g, prefix, notGit, err = findRepo(ctx, dir, true); err != nil {
			return snap, err
		}
	} else {
		g, notGit = gitAt(dir)
	}
	var notes []string
	switch {
	case notGit != "" && opts.Rev != "":
		return snap, fmt.Errorf("cannot copy revision %q: %s (%s); run without a revision to use the directory as it is", opts.Rev, notGit, dir)

	case notGit != "":
		c, err = copyPlain(ctx, dir, dest, dst, idx)
		notes = append(notes, notGit+": running the directory as it is")

	case opts.Rev != "":
		snap.Git = true
		c = newCopier(ctx, nil, dst, idx)
		snap.Commit, snap.Branch, err = copyRev(c, g, prefix, opts.Rev)
		err = c.finish(err)
		if err == nil {
			what := snap.Commit[:12]
			if !strings.HasPrefix(snap.Commit, opts.Rev) {
				what = fmt.Sprintf("%s (%s)", opts.Rev, what)
			}
			notes = append(notes, "files as committed in "+what+"; uncommitted changes are not included")
		}

	default:
		snap.Git = true
		var head headInfo
		var listed bool
		c, head, listed, err = copyWorkTree(ctx, g, dir, dst, idx)
		if err != nil && !listed {
			_, _, why, ferr := findRepo(ctx, dir, false)
			if ferr != nil {
				err = ferr
			} else if why != "" {
				// Not a work tree after all: the directory as it is.
				snap.Git = false
				c.dstDirs.close()
				c, err = copyPlain(ctx, dir, dest, dst, idx)
				notes = append(notes, why+": running the directory as it is")
				break
			}
		}
		if err == nil {
			snap.Commit, snap.Branch = head.commit, head.branch
			snap.Dirty = head.changes > 0
			if snap.Commit == "" {
				notes = append(notes, "git repository has no commits yet: running the work tree as it is")
			}
			if snap.Dirty {
				notes = append(notes, fmt.Sprintf("includes uncommitted changes (%s)", plural(head.changes, "path")))
			}
		}
	}
	if err == nil && snap.Commit != "" {
		snap.CommitTime, err = keptCommitTime(ctx, g, snap.Commit, opts.Index)
	}
	if err == nil {
		err = c.prune(ctx)
	}
	if c != nil {
		c.dstDirs.close()
	}
	if err == nil {
		err = idx.save()
	}
	if err == nil {
		err = doneUpdating(opts.Index)
	}
	if err != nil {
		return snap, err
	}
	snap.Manifest = c.sortedManifest()
	snap.Files = int(c.files.Load())
	snap.Written = int(c.written.Load())
	snap.Removed = int(c.removed.Load())
	snap.Read = int(c.read.Load())
	if snap.Files == 0 && opts.Rev == "" && snap.Git {
		notes = append(notes, "no tracked or untracked non-ignored files here: is the directory ignored by .gitignore?")
	}
	if c.special > 0 {
		notes = append(notes, fmt.Sprintf("skipped %s (sockets, FIFOs or devices)", plural(c.special, "special file")))
	}
	snap.Note = strings.Join(notes, "; ")
	return snap, nil
}

// commitTime is the committer date of commit. The committer date, not
// the author's: a rebased or cherry-picked change was made again when it
// was committed anew.
func commitTime(ctx context.Context, g git, commit string) (time.Time, error) {
	out, err := g.output(ctx, "show", "-s", "--format=%cI", commit)
	if err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(string(out)))
	if err != nil {
		return time.Time{}, fmt.Errorf("committer date of %s: %w", commit, err)
	}
	return t, nil
}

// commitTimeFile is the file, beside a workspace's index, that keeps the
// commit the workspace was last taken at and its committer date.
func commitTimeFile(index string) string { return index + ".commit" }

// keptCommitTime is commitTime, read from the workspace's commitTimeFile
// when that names commit: a commit's date never changes, and a run of an
// unchanged HEAD then starts one git process fewer (~1.5 ms of CPU). A
// missing, partly written or foreign file is ignored and rewritten.
func keptCommitTime(ctx context.Context, g git, commit, index string) (time.Time, error) {
	if index == "" {
		return commitTime(ctx, g, commit)
	}
	p := commitTimeFile(index)
	if b, err := os.ReadFile(p); err == nil {
		c, date, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
		if t, err := time.Parse(time.RFC3339, date); err == nil && c == commit {
			return t, nil
		}
	}
	t, err := commitTime(ctx, g, commit)
	if err != nil {
		return t, err
	}
	// Not written: the next run asks git again.
	_ = os.WriteFile(p, []byte(commit+" "+t.Format(time.RFC3339)+"\n"), 0o600)
	return t, nil
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// prepareDest creates dest unless it exists; created says it did.
func prepareDest(dest string) (created bool, err error) {
	fi, err := os.Lstat(dest)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dest, 0o700); err != nil {
			return false, fmt.Errorf("creating workspace: %w", err)
		}
		return true, nil
	case err != nil:
		return false, fmt.Errorf("workspace: %w", err)
	case !fi.IsDir():
		return false, fmt.Errorf("workspace %s is not a directory", dest)
	}
	return false, nil
}

// findRepo finds the git work tree around dir. When there is none, notGit
// says why in a few words; prefix is dir's path inside the repository
// ("" at its top, else ending in "/"). With rev, a bare repository will
// do too: a server's mirror of a project has no work tree, and a revision
// is read from its objects alone.
func findRepo(ctx context.Context, dir string, rev bool) (g git, prefix, notGit string, err error) {
	if g, notGit = gitAt(dir); notGit != "" {
		return g, "", notGit, nil
	}
	out, err := g.output(ctx, "rev-parse", "--is-inside-work-tree", "--is-bare-repository", "--show-prefix")
	if err != nil {
		var ge *gitError
		if errors.As(err, &ge) && strings.Contains(ge.stderr, "not a git repository") {
			return g, "", "not a git repository", nil
		}
		return g, "", "", fmt.Errorf("checking whether the project is in a git repository: %w", err)
	}
	lines := strings.SplitN(string(out), "\n", 3)
	for len(lines) < 3 {
		lines = append(lines, "")
	}
	inside, bare, rest := lines[0], lines[1], lines[2]
	if inside != "true" {
		if rev && bare == "true" {
			return g, "", "", nil
		}
		// Inside a .git directory or a bare repository: there is no work
		// tree to list, only the files themselves.
		return g, "", "not inside a git work tree", nil
	}
	return g, strings.TrimSuffix(rest, "\n"), "", nil
}

// gitAt is git run in dir; notGit says when git is not installed.
func gitAt(dir string) (g git, notGit string) {
	path, err := exec.LookPath("git")
	if err != nil {
		return g, "git is not installed"
	}
	g = newGit(dir)
	g.path = path
	return g, ""
}

// copyPlain copies dir as it is, without git.
func copyPlain(ctx context.Context, dir, dest string, dst *os.Root, idx *fileIndex) (*copier, error) {
	src, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("opening project directory: %w", err)
	}
	defer src.Close()
	// The workspace may live inside the project; copying it into itself
	// would never end.
	destInfo, err := os.Stat(dest)
	if err != nil {
		return nil, fmt.Errorf("workspace: %w", err)
	}

	c := newCopier(ctx, src, dst, idx)
	err = fs.WalkDir(src.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("reading project: %w; make it readable or move it out of the project", err)
		}
		if err := c.ctx.Err(); err != nil {
			return context.Cause(c.ctx)
		}
		if p == "." {
			return nil
		}
		rel := filepath.FromSlash(p)
		if strings.EqualFold(d.Name(), ".git") {
			// A stray repository (or a gitfile pointing at one) must not
			// become the workspace's: the copy is files, not history.
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		switch t := d.Type(); {
		case t.IsDir():
			if fi, err := d.Info(); err == nil && os.SameFile(fi, destInfo) {
				return fs.SkipDir
			}
			return c.mkdirAll(rel)
		case t.IsRegular():
			fi, err := d.Info()
			if err != nil {
				return fmt.Errorf("reading %s: %w", rel, err)
			}
			return c.enqueue(rel, fi)
		case t&fs.ModeSymlink != 0:
			target, err := src.Readlink(rel)
			if err != nil {
				return fmt.Errorf("reading symlink %s: %w", rel, err)
			}
			return c.symlink(target, rel)
		default:
			c.special++
			return nil
		}
	})
	return c, c.finish(err)
}

// headInfo is what the repository says about the work tree being copied.
type headInfo struct {
	commit, branch string
	changes        int // entries of `git status`, 0 when clean
	err            error
}

// copyWorkTree copies the files git lists in dir. The repository's state is
// read concurrently, since `git status` can take as long as the copy.
//
// listed is false when git could not list the files: dir may not be in a
// work tree at all, and nothing was copied.
func copyWorkTree(ctx context.Context, g git, dir string, dst *os.Root, idx *fileIndex) (c *copier, head headInfo, listed bool, err error) {
	src, err := os.OpenRoot(dir)
	if err != nil {
		return nil, headInfo{}, true, fmt.Errorf("opening project directory: %w", err)
	}
	defer src.Close()

	hctx, stopHead := context.WithCancel(ctx)
	defer stopHead()
	headc := make(chan headInfo, 1)
	go func() { headc <- readHead(hctx, g) }()

	c = newCopier(ctx, src, dst, idx)
	w := &workTree{c: c, src: src, srcDirs: newOpenDirs(src), dir: dir, realDirs: map[string]bool{".": true}}
	defer w.srcDirs.close()
	err = c.finish(w.copy(g, "."))
	if err != nil {
		stopHead()
	}
	head = <-headc
	if err == nil {
		err = head.err
	}
	return c, head, w.listed, err
}

// readHead reads the commit, branch and uncommitted changes of g's work
// tree, limited to g's directory, with one `git status`: its porcelain v2
// branch headers carry the commit and branch, so no other git process is
// needed (each costs milliseconds before a run can start).
func readHead(ctx context.Context, g git) (h headInfo) {
	out, err := g.output(ctx, "status", "--porcelain=v2", "--branch", "-z", "--untracked-files=normal", "--", ".")
	if err != nil {
		h.err = fmt.Errorf("checking for uncommitted changes: %w", err)
		return h
	}
	recs := splitNUL(out)
	for i := 0; i < len(recs); i++ {
		r := recs[i]
		switch {
		case strings.HasPrefix(r, "# branch.oid "):
			if oid := strings.TrimPrefix(r, "# branch.oid "); oid != "(initial)" {
				h.commit = oid // "(initial)": a branch with no commits yet
			}
		case strings.HasPrefix(r, "# branch.head "):
			if b := strings.TrimPrefix(r, "# branch.head "); b != "(detached)" {
				h.branch = b
			}
		case strings.HasPrefix(r, "#"):
			// other headers (upstream, stash)
		case strings.HasPrefix(r, "2 "):
			i++ // a rename or copy is followed by its source path
			h.changes++
		case r != "":
			h.changes++
		}
	}
	return h
}

// workTree copies what `git ls-files` lists.
type workTree struct {
	c       *copier
	src     *os.Root
	srcDirs *openDirs // src's directories, opened once
	dir     string    // absolute project directory, the root of src
	// realDirs caches whether a directory of the source is a real directory
	// (not a symlink, not missing), so each is checked once.
	realDirs map[string]bool
	// listed: git listed the files.
	listed bool
}

// copy copies the files listed by g, whose directory is base (relative to
// the project, native separators).
func (w *workTree) copy(g git, base string) error {
	out, err := g.output(w.c.ctx, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	if err != nil {
		return fmt.Errorf("listing the project's files: %w", err)
	}
	w.listed = true
	prev := ""
	for _, name := range splitNUL(out) {
		if w.c.ctx.Err() != nil {
			return context.Cause(w.c.ctx)
		}
		// Nested repositories are listed as "dir/"; unmerged paths once per
		// conflict stage, one after the other.
		name = strings.TrimSuffix(name, "/")
		if name == prev {
			continue
		}
		prev = name
		rel, err := localPath(path.Join(filepath.ToSlash(base), name))
		if err != nil {
			return fmt.Errorf("git listed an %w", err)
		}
		if err := w.add(g, rel); err != nil {
			return err
		}
	}
	return nil
}

// add copies one listed path.
func (w *workTree) add(g git, rel string) error {
	ok, err := w.realDir(filepath.Dir(rel))
	if err != nil || !ok {
		// Beneath a symlink or a deleted directory: git itself treats the
		// path as deleted, and following the link could leave the tree.
		return err
	}
	fi, err := w.srcDirs.lstat(rel)
	switch {
	case isNotExist(err):
		return nil // tracked but deleted in the work tree
	case err != nil:
		return fmt.Errorf("reading %s: %w", rel, err)
	}
	switch m := fi.Mode(); {
	case m.IsRegular():
		return w.c.enqueue(rel, fi)
	case m&fs.ModeSymlink != 0:
		target, err := w.srcDirs.readlink(rel)
		if err != nil {
			return fmt.Errorf("reading symlink %s: %w", rel, err)
		}
		return w.c.symlink(target, rel)
	case m.IsDir():
		// A submodule or a nested repository, listed as one entry: copy
		// what its own git lists, so its ignored files stay out too.
		if _, err := w.src.Lstat(filepath.Join(rel, ".git")); err == nil {
			return w.copy(g.in(filepath.Join(w.dir, rel)), rel)
		}
		// An uninitialised submodule: empty, as in a fresh clone.
		return w.c.mkdirAll(rel)
	default:
		w.c.special++
		return nil
	}
}

func (w *workTree) realDir(rel string) (bool, error) {
	if ok, seen := w.realDirs[rel]; seen {
		return ok, nil
	}
	ok, err := w.realDir(filepath.Dir(rel))
	if err != nil {
		return false, err
	}
	if ok {
		fi, err := w.srcDirs.lstat(rel)
		switch {
		case err == nil:
			ok = fi.IsDir()
		case isNotExist(err):
			ok = false
		default:
			return false, fmt.Errorf("reading %s: %w", rel, err)
		}
	}
	w.realDirs[rel] = ok
	return ok, nil
}

func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// copyRev copies the tree of commit rev at prefix.
func copyRev(c *copier, g git, prefix, rev string) (commit, branch string, err error) {
	ctx := c.ctx
	out, err := g.output(ctx, "rev-parse", "-q", "--verify", rev+"^{commit}")
	if err != nil {
		if proc.ExitCode(err) == 1 {
			return "", "", fmt.Errorf("%w %q: no commit by that name in the repository at %s; check the name (git log --oneline --all) or fetch it first", ErrUnknownRev, rev, g.dir)
		}
		return "", "", fmt.Errorf("resolving revision %q: %w", rev, err)
	}
	commit = strings.TrimSpace(string(out))

	// The path form ("<commit>:<dir>/") is how git names a subdirectory's
	// tree; it fails when the directory did not exist then.
	out, err = g.output(ctx, "rev-parse", "-q", "--verify", commit+":"+prefix)
	if err != nil {
		if proc.ExitCode(err) == 1 {
			return "", "", fmt.Errorf("revision %q has no directory %q: the project did not exist there yet; pick a later commit", rev, prefix)
		}
		return "", "", fmt.Errorf("finding %q in revision %q: %w", prefix, rev, err)
	}
	tree := strings.TrimSpace(string(out))
	if err := copyTree(c, g, tree); err != nil {
		return "", "", fmt.Errorf("copying revision %q: %w", rev, err)
	}

	if _, err := g.output(ctx, "show-ref", "--verify", "-q", "refs/heads/"+rev); err == nil {
		branch = rev
	}
	return commit, branch, nil
}

type treeEntry struct {
	mode, obj, rel string
	size           int64
}

// maxLinkTarget bounds the blob read into memory for a symlink; real
// targets are far shorter (PATH_MAX is 4096).
const maxLinkTarget = 64 << 10

// copyTree makes the workspace hold every entry of tree. Entries the
// workspace already has are recognised by their git object id, hashed from
// the workspace's file, so only changed ones are read from git; those are
// streamed from one `git cat-file --batch`, never held whole in memory.
func copyTree(c *copier, g git, tree string) error {
	ctx, cancel := context.WithCancel(c.ctx)
	defer cancel()
	// -l adds each blob's size, so most unchanged files are recognised
	// without reading them.
	out, err := g.output(ctx, "ls-tree", "-r", "-z", "-l", "--full-tree", tree)
	if err != nil {
		return err
	}
	var blobs []treeEntry
	for _, rec := range splitNUL(out) {
		// "<mode> SP <type> SP <object> SP+ <size> TAB <path>"
		meta, name, ok := strings.Cut(rec, "\t")
		f := strings.Fields(meta)
		if !ok || len(f) != 4 {
			return fmt.Errorf("unexpected git ls-tree output %q", rec)
		}
		rel, err := localPath(name)
		if err != nil {
			return fmt.Errorf("the commit contains an %w; refusing to copy it", err)
		}
		switch f[0] {
		case "100644", "100755", "120000":
			size, err := strconv.ParseInt(f[3], 10, 64)
			if err != nil || size < 0 {
				return fmt.Errorf("unexpected git ls-tree output %q", rec)
			}
			if err := c.reserve(rel); err != nil {
				return err
			}
			if f[0] == "120000" {
				c.links[rel] = true
			} else {
				c.regular[rel] = true
			}
			blobs = append(blobs, treeEntry{mode: f[0], obj: f[2], rel: rel, size: size})
		case "160000":
			// A submodule: its files are in another repository; leave
			// the empty directory a clone would have.
			if err := c.mkdirAll(rel); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s: unsupported git file mode %s", rel, f[0])
		}
	}
	c.files.Add(int64(len(blobs)))
	blobs, err = c.changedBlobs(blobs)
	if err != nil || len(blobs) == 0 {
		return err
	}

	var want bytes.Buffer
	for _, b := range blobs {
		want.WriteString(b.obj + "\n")
	}
	args := []string{"cat-file", "--batch"}
	stdout, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("git %s: pipe: %w", strings.Join(args, " "), err)
	}
	defer stdout.Close()
	var stderr proc.Head
	s := g.spec(args...)
	s.Stdin, s.Stdout, s.Stderr = &want, w, &stderr
	p, err := proc.Start(ctx, s)
	w.Close() // git holds the write end; EOF comes when it exits
	if err != nil {
		return g.fail(ctx, args, err, "")
	}
	err = writeBlobs(c, bufio.NewReaderSize(stdout, 64<<10), blobs)
	if err != nil {
		cancel() // stop git; the reason is err
	}
	// Nothing reads the pipe any longer: a git still writing must get
	// EPIPE rather than block.
	stdout.Close()
	exit, werr := p.Wait()
	if err != nil {
		return err
	}
	if werr == nil {
		werr = exit.Err()
	}
	if werr != nil {
		return g.fail(ctx, args, werr, stderr.String())
	}
	return nil
}

func (b treeEntry) perm() fs.FileMode {
	if b.mode == "100755" {
		return 0o755
	}
	return 0o644
}

// changedBlobs returns the entries the workspace does not already hold,
// in order. Unchanged files get their permission bits fixed if an earlier
// run changed them.
func (c *copier) changedBlobs(blobs []treeEntry) ([]treeEntry, error) {
	if c.fresh {
		return blobs, nil
	}
	same := make([]bool, len(blobs))
	ctx, cancel := context.WithCancelCause(c.ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			buf := make([]byte, 64<<10)
			for i := w; i < len(blobs); i += workers {
				if ctx.Err() != nil {
					return
				}
				b := blobs[i]
				e, ok, err := c.holds(b, buf)
				if err == nil && ok {
					if b.mode == "120000" {
						c.placeLink(b.rel, e.oid)
					} else {
						err = c.keep(b.rel, e, b.perm())
					}
				}
				if err != nil {
					cancel(err)
					return
				}
				same[i] = ok
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	var changed []treeEntry
	for i, b := range blobs {
		if !same[i] {
			changed = append(changed, b)
		}
	}
	return changed, nil
}

// holds reports whether the workspace has b already: a file or symlink of
// the right kind whose content hashes to b's object id, computed the way
// git does ("blob <size>\0<content>", SHA-1 or SHA-256 by the repository's
// object format). A file the index knows by its stat data to hold that
// blob is not read. For a file, the entry returned describes its content;
// for a symlink its oid field holds the target.
func (c *copier) holds(b treeEntry, buf []byte) (indexEntry, bool, error) {
	var h hash.Hash
	switch len(b.obj) {
	case 2 * sha1.Size:
		h = sha1.New()
	case 2 * sha256.Size:
		h = sha256.New()
	default:
		return indexEntry{}, false, nil
	}
	fmt.Fprintf(h, "blob %d\x00", b.size)
	if b.mode == "120000" {
		target, err := c.dstDirs.readlink(b.rel)
		if err != nil || int64(len(target)) != b.size {
			return indexEntry{}, false, nil // not a link, or another one: rewritten
		}
		io.WriteString(h, target)
		return indexEntry{oid: target}, hex.EncodeToString(h.Sum(nil)) == b.obj, nil
	}
	fi, err := c.dstDirs.lstat(b.rel)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != b.size || fi.Mode().Perm()&0o400 == 0 {
		return indexEntry{}, false, nil
	}
	old, _ := c.idx.get(b.rel)
	if old.dst.known() && old.dst == stateOf(fi) && old.oid != "" {
		// The index knows what the file holds.
		return old, old.oid == b.obj, nil
	}
	c.read.Add(1)
	f, err := c.dst.Open(b.rel)
	if err != nil {
		return indexEntry{}, false, fmt.Errorf("reading %s in the workspace: %w", b.rel, err)
	}
	content := newContentHash()
	_, err = io.CopyBuffer(io.MultiWriter(h, content), struct{ io.Reader }{f}, buf)
	f.Close()
	if err != nil {
		return indexEntry{}, false, fmt.Errorf("reading %s in the workspace: %w", b.rel, err)
	}
	if hex.EncodeToString(h.Sum(nil)) != b.obj {
		return indexEntry{}, false, nil
	}
	e := content.entry()
	e.oid = b.obj
	if old.digest == e.digest {
		e.src = old.src
	}
	return e, true, nil
}

// writeBlobs reads `git cat-file --batch` replies, one per entry in order,
// and writes them over whatever the workspace has there. The entries are
// reserved.
func writeBlobs(c *copier, r *bufio.Reader, blobs []treeEntry) error {
	for _, b := range blobs {
		if c.ctx.Err() != nil {
			return context.Cause(c.ctx)
		}
		// "<object> SP blob SP <size> LF <contents> LF"
		header, err := r.ReadString('\n')
		if err != nil {
			return fmt.Errorf("reading %s from git: %w", b.rel, err)
		}
		f := strings.Fields(header)
		if len(f) != 3 || f[0] != b.obj || f[1] != "blob" {
			return fmt.Errorf("reading %s from git: unexpected reply %q", b.rel, strings.TrimSpace(header))
		}
		size, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil || size < 0 {
			return fmt.Errorf("reading %s from git: bad size in %q", b.rel, strings.TrimSpace(header))
		}
		body := io.LimitReader(r, size)
		var n int64
		if b.mode == "120000" {
			if size > maxLinkTarget {
				return fmt.Errorf("symlink %s: target of %d bytes is too long", b.rel, size)
			}
			var target []byte
			target, err = io.ReadAll(body)
			n = int64(len(target))
			if err == nil && n == size {
				err = c.writeLink(string(target), b.rel)
				c.placeLink(b.rel, string(target))
			}
		} else {
			c.read.Add(1)
			var e indexEntry
			e, n, err = c.writeFile(b.rel, body, b.perm())
			if err == nil && n == size {
				// A commit's file has no project file behind it, unless
				// the project's file (known to the index) has the same
				// content.
				if old, _ := c.idx.get(b.rel); old.digest == e.digest {
					e.src = old.src
				}
				e.oid = b.obj
				c.place(b.rel, e, b.perm(), n)
			}
		}
		if err != nil {
			return err
		}
		if n != size {
			return fmt.Errorf("reading %s from git: %w", b.rel, io.ErrUnexpectedEOF)
		}
		if lf, err := r.ReadByte(); err != nil || lf != '\n' {
			return fmt.Errorf("reading %s from git: reply not terminated", b.rel)
		}
	}
	return nil
}
