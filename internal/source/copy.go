package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
)

// workers is how many files are copied at once. Copying is I/O bound; a few
// parallel copies hide per-file latency (open, create, chmod) without
// thrashing a spinning disk.
const workers = 4

// copier writes the workspace. One goroutine (the one walking the listing)
// creates directories and symlinks and hands regular files to a small pool
// of workers.
type copier struct {
	src *os.Root // nil when content comes from git objects
	dst *os.Root

	// dirs and links record what has been created in dest, so that nothing is
	// ever written beneath a symlink we made and no entry is created twice.
	// Only the walking goroutine uses them, so they need no lock.
	dirs  map[string]bool
	links map[string]bool

	files   atomic.Int64
	special int // sockets, FIFOs and devices skipped

	ctx    context.Context
	cancel context.CancelCauseFunc
	jobs   chan fileJob
	wg     sync.WaitGroup
}

type fileJob struct {
	rel  string
	perm fs.FileMode
}

func newCopier(ctx context.Context, src, dst *os.Root) *copier {
	ctx, cancel := context.WithCancelCause(ctx)
	c := &copier{
		src: src, dst: dst,
		dirs:  map[string]bool{".": true},
		links: map[string]bool{},
		ctx:   ctx, cancel: cancel,
		jobs: make(chan fileJob, 4*workers),
	}
	if src != nil {
		for range workers {
			c.wg.Go(c.work)
		}
	}
	return c
}

func (c *copier) work() {
	for j := range c.jobs {
		if c.ctx.Err() != nil {
			continue // drain so the sender never blocks
		}
		if err := c.copyFile(j); err != nil {
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
	err = context.Cause(c.ctx)
	c.cancel(nil)
	return err
}

// mkdirAll creates directory rel (a clean, native relative path) and its
// parents in dest.
func (c *copier) mkdirAll(rel string) error {
	if c.dirs[rel] {
		return nil
	}
	if c.links[rel] {
		return fmt.Errorf("%s is both a symlink and a directory: refusing to write beneath a symlink", rel)
	}
	if err := c.mkdirAll(filepath.Dir(rel)); err != nil {
		return err
	}
	if err := c.dst.Mkdir(rel, 0o755); err != nil {
		return fmt.Errorf("creating directory %s in the workspace: %w", rel, err)
	}
	c.dirs[rel] = true
	return nil
}

// reserve makes sure rel can be created: its parents exist as real
// directories and nothing of that name was made before.
func (c *copier) reserve(rel string) error {
	if c.dirs[rel] || c.links[rel] {
		return fmt.Errorf("%s appears twice in the source", rel)
	}
	return c.mkdirAll(filepath.Dir(rel))
}

// symlink recreates a symlink with its target unchanged. The target is not
// followed or checked: like git checkout, a link may point anywhere, and
// everything the copier writes later refuses to go through it.
func (c *copier) symlink(target, rel string) error {
	if err := c.reserve(rel); err != nil {
		return err
	}
	if err := c.dst.Symlink(target, rel); err != nil {
		return fmt.Errorf("creating symlink %s in the workspace: %w", rel, err)
	}
	c.links[rel] = true
	c.files.Add(1)
	return nil
}

// enqueue schedules copying regular file rel from src.
func (c *copier) enqueue(rel string, perm fs.FileMode) error {
	if err := c.reserve(rel); err != nil {
		return err
	}
	select {
	case c.jobs <- fileJob{rel: rel, perm: perm}:
		return nil
	case <-c.ctx.Done():
		return context.Cause(c.ctx)
	}
}

func (c *copier) copyFile(j fileJob) error {
	in, err := c.src.Open(j.rel)
	if err != nil {
		return fmt.Errorf("reading %s: %w", j.rel, err)
	}
	defer in.Close()
	// Both ends are *os.File, so io.Copy lets the kernel copy
	// (copy_file_range, which reflinks where the filesystem can).
	_, err = c.writeFile(j.rel, in, j.perm)
	return err
}

// writeFile creates rel in dest with content r and returns the bytes
// written. The caller has reserved rel.
func (c *copier) writeFile(rel string, r io.Reader, perm fs.FileMode) (int64, error) {
	out, err := c.dst.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return 0, fmt.Errorf("creating %s in the workspace: %w", rel, err)
	}
	n, err := io.Copy(out, r)
	if err == nil {
		// OpenFile's mode is cut by the umask; the copy must keep the
		// source's bits (the executable bit above all).
		err = out.Chmod(perm)
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, fmt.Errorf("copying %s into the workspace: %w", rel, err)
	}
	c.files.Add(1)
	return n, nil
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
