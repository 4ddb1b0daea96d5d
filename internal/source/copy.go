package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/velocity-ci/velocity/internal/artifact"
)

// workers is how many files are compared or copied at once. The work is
// I/O bound; a few at a time hide per-file latency (open, create, chmod)
// without thrashing a spinning disk.
const workers = 4

// copier makes the workspace equal to the snapshot. The workspace may hold
// the snapshot of an earlier run: an entry that is already right is left
// alone (so its mtime stays, and tools that compare mtimes see no change),
// a wrong one is replaced, and prune removes what the snapshot does not
// have. One goroutine (the one walking the listing) makes directories and
// symlinks and hands regular files to a small pool of workers.
//
// Nothing is ever written through a symlink found in the workspace: every
// directory is checked (Lstat) before anything is placed in it, a wrong
// entry is removed before its replacement is created with O_EXCL, and all
// of it goes through an os.Root, so even a race cannot leave the workspace.
type copier struct {
	src *os.Root // nil when content comes from git objects
	dst *os.Root
	// dstDirs holds the workspace's directories open for the many
	// Lstats of a reused workspace.
	dstDirs *openDirs
	// fresh says dst was empty: there is nothing to compare, replace or
	// prune, and skipping the checks saves a syscall or two per file on a
	// project's first run.
	fresh bool

	// dirs, links and regular record the snapshot's entries as they are
	// placed, so that nothing is written beneath a symlink, no entry is
	// placed twice, and prune knows what to keep. Only the walking
	// goroutine uses them, so they need no lock.
	dirs    map[string]bool
	links   map[string]bool
	regular map[string]bool
	// startDirs holds the stat data of the workspace's directories as
	// they were before this update touched them, for prune.
	startDirs map[string]fileState

	// idx knows the content of files from earlier runs by their stat
	// data, so unchanged files are not read; it records this run's.
	idx *fileIndex
	// noClone is set once the file system refused a FICLONE.
	noClone atomic.Bool
	// manifest lists the snapshot's files and symlinks as placed, the
	// way artifact.HashPresent would describe them.
	mu       sync.Mutex
	manifest []artifact.File

	files   atomic.Int64 // snapshot files and symlinks
	written atomic.Int64 // of which had to be (re)written
	read    atomic.Int64 // of which had their content read
	// touched is set before the first change to a workspace entry.
	touched atomic.Bool
	removed atomic.Int64 // workspace entries that were not the snapshot's
	special int          // sockets, FIFOs and devices skipped

	ctx    context.Context
	cancel context.CancelCauseFunc
	jobs   chan fileJob
	wg     sync.WaitGroup
}

type fileJob struct {
	rel  string
	perm fs.FileMode
	info fs.FileInfo // the source file's Lstat, as listed
}

func newCopier(ctx context.Context, src, dst *os.Root, idx *fileIndex) *copier {
	ctx, cancel := context.WithCancelCause(ctx)
	if idx == nil {
		idx = loadIndex("", false)
	}
	c := &copier{
		src: src, dst: dst, idx: idx, dstDirs: newOpenDirs(dst),
		dirs:      map[string]bool{".": true},
		links:     map[string]bool{},
		regular:   map[string]bool{},
		startDirs: map[string]fileState{},
		ctx:       ctx, cancel: cancel,
		jobs: make(chan fileJob, 4*workers),
	}
	if d, err := dst.Open("."); err == nil {
		names, _ := d.Readdirnames(1)
		c.fresh = len(names) == 0
		if fi, err := d.Stat(); err == nil {
			c.startDirs["."] = stateOf(fi)
		}
		d.Close()
	}
	if src != nil {
		for range workers {
			c.wg.Go(c.work)
		}
	}
	return c
}

func (c *copier) work() {
	// Per worker, so comparing files allocates nothing.
	bufs := &compareBuffers{a: make([]byte, 64<<10), b: make([]byte, 64<<10)}
	for j := range c.jobs {
		if c.ctx.Err() != nil {
			continue // drain so the sender never blocks
		}
		if err := c.syncFile(j, bufs); err != nil {
			c.cancel(err)
		}
	}
}

// finish waits for the queued copies and returns the first failure: err
// (the walker's own, which stops the workers) or a worker's.
func (c *copier) finish(err error) error {
	if err != nil {
		c.cancel(err)
	}
	close(c.jobs)
	c.wg.Wait()
	// prune still reads directories; Take closes them.
	err = context.Cause(c.ctx)
	c.cancel(nil)
	return err
}

// mkdirAll makes sure directory rel (a clean, native relative path) and its
// parents are real directories in dest.
func (c *copier) mkdirAll(rel string) error {
	if c.dirs[rel] {
		return nil
	}
	if c.links[rel] || c.regular[rel] {
		return fmt.Errorf("%s is both a file or symlink and a directory: refusing to write beneath it", rel)
	}
	if err := c.mkdirAll(filepath.Dir(rel)); err != nil {
		return err
	}
	var fi fs.FileInfo
	err := fs.ErrNotExist
	if !c.fresh {
		fi, err = c.dstDirs.lstat(rel)
	}
	switch {
	case err == nil && fi.IsDir():
		c.startDirs[rel] = stateOf(fi)
		// Kept from an earlier run. An action may have taken its
		// permissions away; the next run must be able to work in it.
		if fi.Mode().Perm()&0o700 != 0o700 {
			if err := c.dst.Chmod(rel, 0o755); err != nil {
				return fmt.Errorf("making directory %s of the workspace writable: %w", rel, err)
			}
		}
		c.dirs[rel] = true
		return nil
	case err == nil:
		// A file or a symlink where the snapshot has a directory.
		if err := c.clear(rel); err != nil {
			return err
		}
	case !isNotExist(err):
		return fmt.Errorf("reading %s in the workspace: %w", rel, err)
	}
	if err := c.dst.Mkdir(rel, 0o755); err != nil {
		return fmt.Errorf("creating directory %s in the workspace: %w", rel, err)
	}
	c.dirs[rel] = true
	return nil
}

// reserve makes sure rel can be placed: its parents exist as real
// directories and nothing of that name was placed before.
func (c *copier) reserve(rel string) error {
	if c.dirs[rel] || c.links[rel] || c.regular[rel] {
		return fmt.Errorf("%s appears twice in the source", rel)
	}
	return c.mkdirAll(filepath.Dir(rel))
}

// clear removes whatever the workspace has at rel, never following it: a
// symlink is removed, not its target; a directory with all it holds.
func (c *copier) clear(rel string) error {
	c.touched.Store(true)
	err := c.dst.RemoveAll(rel)
	if errors.Is(err, fs.ErrPermission) {
		// A tree an action made read-only (Go's module cache is, when
		// GOPATH points into the workspace): its entries cannot be
		// unlinked until their directories are writable again.
		c.makeWritable(rel)
		err = c.dst.RemoveAll(rel)
	}
	if err != nil {
		return fmt.Errorf("removing %s from the workspace: %w", rel, err)
	}
	return nil
}

// makeWritable gives the owner full access to every directory under rel,
// so that their entries can be removed. Errors are left to the removal
// that follows to report.
func (c *copier) makeWritable(rel string) {
	fs.WalkDir(c.dst.FS(), filepath.ToSlash(rel), func(p string, d fs.DirEntry, err error) error {
		if d == nil || !d.IsDir() {
			return nil
		}
		// WalkDir calls this before it reads the directory, so an
		// unreadable one is readable in time.
		c.dst.Chmod(filepath.FromSlash(p), 0o700)
		return nil
	})
}

// symlink places a symlink with its target unchanged. The target is not
// followed or checked: like git checkout, a link may point anywhere, and
// everything the copier writes later refuses to go through it.
func (c *copier) symlink(target, rel string) error {
	if err := c.reserve(rel); err != nil {
		return err
	}
	c.links[rel] = true
	c.files.Add(1)
	c.placeLink(rel, target)
	if c.fresh {
		return c.writeLink(target, rel)
	}
	if old, err := c.dstDirs.readlink(rel); err == nil && old == target {
		return nil // the same link (Readlink fails on anything but a link)
	}
	return c.writeLink(target, rel)
}

// writeLink replaces whatever is at rel with a symlink to target. The
// caller has reserved rel.
func (c *copier) writeLink(target, rel string) error {
	c.touched.Store(true)
	if err := c.clearIfPresent(rel); err != nil {
		return err
	}
	if err := c.dst.Symlink(target, rel); err != nil {
		return fmt.Errorf("creating symlink %s in the workspace: %w", rel, err)
	}
	c.written.Add(1)
	return nil
}

// placeLink records that symlink rel to target is in place.
func (c *copier) placeLink(rel, target string) {
	c.idx.putLink(rel)
	c.mu.Lock()
	defer c.mu.Unlock()
	// Symlink permissions mean nothing; artifact fixes them the same way.
	c.manifest = append(c.manifest, artifact.File{Path: filepath.ToSlash(rel), Mode: fs.ModeSymlink | 0o777, Link: target})
}

// place records that regular file rel holds e's content with mode perm.
func (c *copier) place(rel string, e indexEntry, perm fs.FileMode, size int64) {
	c.idx.put(rel, e)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.manifest = append(c.manifest, artifact.File{Path: filepath.ToSlash(rel), Mode: perm, Size: size, Digest: digestOf(e.digest)})
}

// sortedManifest is the manifest in path order.
func (c *copier) sortedManifest() []artifact.File {
	c.mu.Lock()
	defer c.mu.Unlock()
	slices.SortFunc(c.manifest, func(a, b artifact.File) int { return strings.Compare(a.Path, b.Path) })
	return c.manifest
}

// clearIfPresent clears rel when the workspace has anything there.
func (c *copier) clearIfPresent(rel string) error {
	if c.fresh {
		return nil
	}
	_, err := c.dst.Lstat(rel)
	switch {
	case err == nil:
		return c.clear(rel)
	case isNotExist(err):
		return nil
	default:
		return fmt.Errorf("reading %s in the workspace: %w", rel, err)
	}
}

// enqueue schedules placing regular file rel from src, whose Lstat is fi.
func (c *copier) enqueue(rel string, fi fs.FileInfo) error {
	if err := c.reserve(rel); err != nil {
		return err
	}
	c.regular[rel] = true
	select {
	case c.jobs <- fileJob{rel: rel, perm: fi.Mode().Perm(), info: fi}:
		return nil
	case <-c.ctx.Done():
		return context.Cause(c.ctx)
	}
}

// syncFile makes the workspace's rel a copy of the source's, unless it
// already is one. When the index knows both files by their stat data,
// neither is read.
func (c *copier) syncFile(j fileJob, bufs *compareBuffers) error {
	c.files.Add(1)
	old, _ := c.idx.get(j.rel)
	if !c.fresh && old.src.known() && old.dst.known() && old.src == stateOf(j.info) {
		fi, err := c.dstDirs.lstat(j.rel)
		if err == nil && stateOf(fi) == old.dst && fi.Mode().Perm() == j.perm {
			c.place(j.rel, old, j.perm, fi.Size())
			return nil
		}
	}
	c.read.Add(1)
	in, err := c.src.Open(j.rel)
	if err != nil {
		return fmt.Errorf("reading %s: %w", j.rel, err)
	}
	defer in.Close()
	// The state of what was opened, taken before reading: if the file
	// changes while it is read, its state will differ next time.
	si, err := in.Stat()
	if err != nil {
		return fmt.Errorf("reading %s: %w", j.rel, err)
	}
	cur := stateOf(si)
	if !c.fresh {
		e, same, err := c.sameFile(j.rel, in, si, old, bufs)
		if err != nil {
			return err
		}
		if same {
			e.src = cur
			return c.keep(j.rel, e, j.perm)
		}
		if _, err := in.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("reading %s: %w", j.rel, err)
		}
	}
	e, n, err := c.writeFile(j.rel, in, j.perm)
	if err != nil {
		return err
	}
	if n == si.Size() {
		e.src = cur
	}
	c.place(j.rel, e, j.perm, n)
	return nil
}

// keep records that the workspace's rel already holds e's content, after
// setting its mode to perm.
func (c *copier) keep(rel string, e indexEntry, perm fs.FileMode) error {
	fi, err := c.fixPerm(rel, perm)
	if err != nil {
		return err
	}
	e.dst = stateOf(fi)
	c.place(rel, e, perm, fi.Size())
	return nil
}

// sameFile reports whether the workspace already has at rel a regular file
// with the content of in (which it may read; si is its Stat), and returns
// that content's entry. What the index knows of either file is used
// instead of reading it.
func (c *copier) sameFile(rel string, in *os.File, si fs.FileInfo, old indexEntry, bufs *compareBuffers) (indexEntry, bool, error) {
	fi, err := c.dst.Lstat(rel)
	if isNotExist(err) {
		return indexEntry{}, false, nil
	}
	if err != nil {
		return indexEntry{}, false, fmt.Errorf("reading %s in the workspace: %w", rel, err)
	}
	if !fi.Mode().IsRegular() || si.Size() != fi.Size() {
		return indexEntry{}, false, nil
	}
	if fi.Mode().Perm()&0o400 == 0 {
		return indexEntry{}, false, nil // unreadable: rewriting is simpler than asking why
	}
	var want indexEntry
	if old.src.known() && old.src == stateOf(si) {
		want = old
	} else if want, err = hashContent(in, bufs.a); err != nil {
		return indexEntry{}, false, fmt.Errorf("reading %s: %w", rel, err)
	}
	if old.dst.known() && old.dst == stateOf(fi) {
		return want, old.digest == want.digest, nil
	}
	// Lstat said regular file, and dst's parents are checked directories:
	// this open does not go through a link.
	out, err := c.dst.Open(rel)
	if err != nil {
		return indexEntry{}, false, fmt.Errorf("reading %s in the workspace: %w", rel, err)
	}
	defer out.Close()
	have, err := hashContent(out, bufs.b)
	if err != nil {
		return indexEntry{}, false, fmt.Errorf("reading %s in the workspace: %w", rel, err)
	}
	return want, have.digest == want.digest, nil
}

// fixPerm sets rel's permission bits to perm when an earlier run left
// others (chmod does not touch the mtime), and returns rel's Lstat after.
func (c *copier) fixPerm(rel string, perm fs.FileMode) (fs.FileInfo, error) {
	fi, err := c.dst.Lstat(rel)
	if err != nil {
		return nil, fmt.Errorf("reading %s in the workspace: %w", rel, err)
	}
	if fi.Mode().Perm() == perm {
		return fi, nil
	}
	c.touched.Store(true)
	if err := c.dst.Chmod(rel, perm); err != nil {
		return nil, fmt.Errorf("setting the mode of %s in the workspace: %w", rel, err)
	}
	// The chmod moved the ctime the index compares.
	if fi, err = c.dst.Lstat(rel); err != nil {
		return nil, fmt.Errorf("reading %s in the workspace: %w", rel, err)
	}
	return fi, nil
}

// compareBuffers compares two streams block by block.
type compareBuffers struct{ a, b []byte }

func (bufs *compareBuffers) equal(x, y io.Reader) (bool, error) {
	for {
		n, errx := io.ReadFull(x, bufs.a)
		m, erry := io.ReadFull(y, bufs.b[:len(bufs.a)])
		if n != m || !bytes.Equal(bufs.a[:n], bufs.b[:m]) {
			return false, nil
		}
		xEnd := errx == io.EOF || errors.Is(errx, io.ErrUnexpectedEOF)
		yEnd := erry == io.EOF || errors.Is(erry, io.ErrUnexpectedEOF)
		switch {
		case errx != nil && !xEnd:
			return false, errx
		case erry != nil && !yEnd:
			return false, erry
		case xEnd || yEnd:
			return xEnd == yEnd, nil
		}
	}
}

// writeFile replaces whatever is at rel with a file of content r, hashing
// what it writes, and returns its entry (without src) and the bytes
// written. The caller has reserved rel.
func (c *copier) writeFile(rel string, r io.Reader, perm fs.FileMode) (indexEntry, int64, error) {
	c.touched.Store(true)
	if err := c.clearIfPresent(rel); err != nil {
		return indexEntry{}, 0, err
	}
	// O_EXCL: never opens an existing name, so never writes through a
	// symlink that appeared since.
	out, err := c.dst.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return indexEntry{}, 0, fmt.Errorf("creating %s in the workspace: %w", rel, err)
	}
	h := newContentHash()
	var n int64
	if in, ok := r.(*os.File); ok && c.clone(out, in) {
		// Shared blocks: the content still has to be hashed, but nothing
		// is written.
		n, err = io.Copy(h, struct{ io.Reader }{in})
	} else {
		n, err = io.Copy(out, io.TeeReader(r, h))
	}
	if err == nil {
		// OpenFile's mode is cut by the umask; the copy must keep the
		// source's bits (the executable bit above all).
		err = out.Chmod(perm)
	}
	var fi fs.FileInfo
	if err == nil {
		// The file's final stat data (closing changes none of it),
		// without walking the path again.
		fi, err = out.Stat()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return indexEntry{}, n, fmt.Errorf("copying %s into the workspace: %w", rel, err)
	}
	e := h.entry()
	e.dst = stateOf(fi)
	c.written.Add(1)
	return e, n, nil
}

// prune removes from the workspace every entry the snapshot does not have:
// files an earlier run created, files since deleted from the project. It
// runs after the snapshot is placed (finish has returned), when the maps
// are complete.
func (c *copier) prune(ctx context.Context) error {
	if c.fresh {
		return nil
	}
	return c.pruneDir(ctx, ".")
}

// pruneDir prunes directory dir of the workspace, one of the snapshot's,
// and records it in the index. A directory whose stat data is what the
// index recorded after the last update has had no entry added or removed
// since (creating, removing or renaming an entry changes its directory's
// mtime and ctime), so its entries are known without listing it: those of
// the last snapshot, less what this one no longer has.
func (c *copier) pruneDir(ctx context.Context, dir string) error {
	var names []string
	known := c.idx.unchangedDir(dir, c.startDirs[dir])
	if known {
		names = c.idx.childrenOf(dir)
	} else {
		entries, err := c.dstDirs.readDir(dir)
		if err != nil {
			return fmt.Errorf("reading the workspace: %w", err)
		}
		names = make([]string, len(entries))
		for i, d := range entries {
			names[i] = d.Name()
		}
	}
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		rel := filepath.Join(dir, name)
		if c.dirs[rel] {
			// Type checked by mkdirAll, which made it a directory.
			if err := c.pruneDir(ctx, rel); err != nil {
				return err
			}
			continue
		}
		if c.regular[rel] || c.links[rel] {
			// Placed by this update as a file or symlink; if
			// something else stands there, it was replaced.
			continue
		}
		if known {
			if _, err := c.dstDirs.lstat(rel); isNotExist(err) {
				continue // removed already (replaced by a parent's change)
			}
		}
		if err := c.clear(rel); err != nil {
			return err
		}
		c.removed.Add(1)
	}
	fi, err := c.dstDirs.lstat(dir)
	if err != nil {
		return fmt.Errorf("reading the workspace: %w", err)
	}
	c.idx.putDir(dir, stateOf(fi))
	return nil
}

// errUnsafePath is wrapped by errors about paths that would escape the
// workspace or plant a repository in it.
var errUnsafePath = errors.New("unsafe path")

// localPath turns a slash-separated path reported by git into a native
// relative path, refusing anything that could resolve outside dest (absolute
// names, "..") or create a .git in the workspace, which would let a hostile
// commit hand git hooks or config to the pipeline's own git commands.
func localPath(p string) (string, error) {
	if p == "" || strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("%w %q: not a relative path", errUnsafePath, p)
	}
	for elem := range strings.SplitSeq(p, "/") {
		switch {
		case elem == "" || elem == "." || elem == "..":
			return "", fmt.Errorf("%w %q: empty, . or .. element", errUnsafePath, p)
		case strings.EqualFold(elem, ".git"):
			return "", fmt.Errorf("%w %q: contains a .git element", errUnsafePath, p)
		case strings.ContainsRune(elem, 0):
			return "", fmt.Errorf("%w %q: contains NUL", errUnsafePath, p)
		}
	}
	if path.Clean(p) != p || !filepath.IsLocal(filepath.FromSlash(p)) {
		return "", fmt.Errorf("%w %q: not a local path", errUnsafePath, p)
	}
	return filepath.FromSlash(p), nil
}
