package artifact

import (
	"archive/tar"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// PackDirs stores the given paths under root (directories with everything
// beneath them, or single files) as one tar blob, for dependency caches.
// Paths that do not exist are skipped: a cache directory that a build did
// not create is not an error. Symlinks are stored as symlinks, .git
// directories included (a cached git checkout needs its repository).
//
// The tar is not compressed. Measured on 100 MB of a Go build cache (1,800
// files, 2 CPUs): tar alone 0.11-0.13 s, tar with gzip at its fastest level
// 0.84-0.94 s for a blob 29% of the size, before counting the slower
// unpack. A local cache has disk to spare, and its whole point is time.
// Content is streamed from the files into the store, never held in memory.
func (b *Blobs) PackDirs(root string, paths []string) (Digest, int64, error) {
	paths, err := packRoots(paths)
	if err != nil {
		return "", 0, err
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return "", 0, fmt.Errorf("pack: %w", err)
	}
	defer r.Close()

	pr, pw := io.Pipe()
	packed := make(chan error, 1)
	go func() {
		err := writeTar(r, paths, pw)
		pw.CloseWithError(err)
		packed <- err
	}()
	d, n, err := b.Put(pr)
	// Unblocks the writer if the store gave up first.
	pr.CloseWithError(errors.New("the blob store stopped reading"))
	perr := <-packed
	// A writer failure reaches Put through the pipe, so Put's error is
	// the whole story whichever side failed.
	if err == nil {
		err = perr
	}
	if err != nil {
		return "", 0, fmt.Errorf("pack: %w", err)
	}
	return d, n, nil
}

// packRoots checks and cleans paths and drops those beneath another, so
// that nothing is packed twice.
func packRoots(paths []string) ([]string, error) {
	clean := make([]string, 0, len(paths))
	for _, p := range paths {
		// ".." is refused before cleaning, which would hide it.
		c := path.Clean(p)
		if slices.Contains(strings.Split(p, "/"), "..") || localPath(c) != nil {
			return nil, fmt.Errorf("pack: %q: %w: cache paths are relative to the workspace and cannot use ..", p, ErrUnsafePath)
		}
		clean = append(clean, c)
	}
	slices.Sort(clean)
	var out []string
	for _, p := range clean {
		if n := len(out); n > 0 && (p == out[n-1] || strings.HasPrefix(p, out[n-1]+"/")) {
			continue
		}
		out = append(out, p)
	}
	return out, nil
}

func writeTar(r *os.Root, paths []string, w io.Writer) error {
	bw := bufio.NewWriterSize(w, copyBuffer)
	tw := tar.NewWriter(bw)
	buf := make([]byte, copyBuffer)
	for _, p := range paths {
		fi, err := r.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			// WalkDir would follow a symlink given as its root.
			if err := addToTar(tw, r, p, fs.FileInfoToDirEntry(fi), buf); err != nil {
				return err
			}
			continue
		}
		err = fs.WalkDir(r.FS(), p, func(name string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			return addToTar(tw, r, name, e, buf)
		})
		if err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return bw.Flush()
}

func addToTar(tw *tar.Writer, r *os.Root, name string, e fs.DirEntry, buf []byte) error {
	fi, err := e.Info()
	if err != nil {
		return err
	}
	hdr := &tar.Header{Name: name, Mode: int64(fi.Mode().Perm()), ModTime: fi.ModTime()}
	switch t := fi.Mode().Type(); {
	case t.IsDir():
		hdr.Typeflag, hdr.Name = tar.TypeDir, name+"/"
		return tw.WriteHeader(hdr)
	case t&fs.ModeSymlink != 0:
		if hdr.Linkname, err = r.Readlink(name); err != nil {
			return err
		}
		hdr.Typeflag = tar.TypeSymlink
		return tw.WriteHeader(hdr)
	case t.IsRegular():
		f, err := r.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		hdr.Typeflag, hdr.Size = tar.TypeReg, fi.Size()
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		// Exactly the size in the header: a file growing under us must
		// not break the archive, and one shrinking is an error.
		n, err := io.CopyBuffer(tw, io.LimitReader(f, hdr.Size), buf)
		if err == nil && n < hdr.Size {
			err = fmt.Errorf("%s shrank while being packed", name)
		}
		return err
	}
	return nil // sockets, FIFOs and devices mean nothing in a cache
}

// UnpackDirs extracts a blob made by PackDirs into root (created if
// missing). Entries replace files and symlinks of the same name; nothing
// is written outside root or through a symlink (ErrUnsafePath), and only
// directories, regular files and symlinks are accepted. Modes and
// modification times are kept, since build tools (cargo, make) compare
// times to decide what to rebuild.
//
// The content is checked against d while it is extracted. If it turns out
// corrupt (ErrCorrupt) or extraction fails, what this call created is
// removed again; files it had already replaced are lost, which for a
// dependency cache costs only a slower build.
func (b *Blobs) UnpackDirs(root string, d Digest) error {
	in, err := b.Open(d)
	if err != nil {
		return fmt.Errorf("unpack: %w", err)
	}
	defer in.Close()
	if err := os.MkdirAll(root, 0o700); err != nil {
		return fmt.Errorf("unpack: %w", err)
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return fmt.Errorf("unpack: %w", err)
	}
	defer r.Close()

	br := bufio.NewReaderSize(in, copyBuffer)
	x := newExtractor(newDestination(r))
	err = x.extract(tar.NewReader(br))
	// The tar reader stops at the end-of-archive marker; the digest is only
	// checked once the blob is read to its end. After a failure the rest
	// is read too, because a malformed archive usually means a corrupt
	// blob, and that is the error worth reporting (and the blob is then
	// deleted).
	if _, derr := io.Copy(io.Discard, br); derr != nil && (err == nil || errors.Is(derr, ErrCorrupt)) {
		err = derr
	}
	if err != nil {
		x.rollback()
		return fmt.Errorf("unpack %s: %w", d, err)
	}
	return x.finishDirs()
}

// smallFile is the largest file the reading goroutine hands to a worker,
// content in memory. Creating a file costs about as much as writing a few
// hundred kilobytes, and dependency caches hold thousands of small files,
// so creating them in parallel is what makes unpacking fast; larger files
// are streamed by the reader itself, which keeps memory bounded (a few
// megabytes in flight).
const smallFile = 256 << 10

// extractor writes the entries of one archive. One goroutine reads the
// archive and makes directories and symlinks, in archive order; workers
// write small files.
type extractor struct {
	dst  *destination
	buf  []byte
	dirs []tarEntry // directory entries, whose modes are applied last

	jobs    chan fileJob
	wg      sync.WaitGroup
	failed  atomic.Bool
	mu      sync.Mutex
	err     error    // the first worker failure
	created []string // files and symlinks written, for rollback
}

type tarEntry struct {
	name    string
	mode    fs.FileMode
	modTime time.Time
}

type fileJob struct {
	tarEntry
	data []byte
}

func newExtractor(dst *destination) *extractor {
	x := &extractor{dst: dst, buf: make([]byte, copyBuffer), jobs: make(chan fileJob, 2*workers())}
	for range workers() {
		x.wg.Go(func() {
			for j := range x.jobs {
				if x.failed.Load() {
					continue // drain, so that the reader never blocks
				}
				if err := x.writeFile(j.tarEntry, bytes.NewReader(j.data), nil); err != nil {
					x.fail(err)
				}
			}
		})
	}
	return x
}

func (x *extractor) fail(err error) {
	x.mu.Lock()
	if x.err == nil {
		x.err = err
	}
	x.mu.Unlock()
	x.failed.Store(true)
}

// extract writes every entry and waits for the workers.
func (x *extractor) extract(tr *tar.Reader) error {
	err := x.entries(tr)
	close(x.jobs)
	x.wg.Wait()
	if err != nil {
		return err
	}
	return x.err
}

func (x *extractor) entries(tr *tar.Reader) error {
	for !x.failed.Load() {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := x.entry(tr, hdr); err != nil {
			return err
		}
	}
	return nil
}

func (x *extractor) entry(tr *tar.Reader, hdr *tar.Header) error {
	name := strings.TrimSuffix(hdr.Name, "/")
	if err := localPath(name); err != nil {
		return err
	}
	e := tarEntry{name: name, mode: fs.FileMode(hdr.Mode).Perm(), modTime: hdr.ModTime}
	if hdr.Typeflag == tar.TypeDir {
		// Directories stay writable until the end: a read-only one (the
		// Go module cache has them) could not receive its files.
		if err := x.dst.mkdirAll(name); err != nil {
			return err
		}
		x.dirs = append(x.dirs, e)
		return nil
	}
	if err := x.dst.mkdirAll(path.Dir(name)); err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeReg:
		if hdr.Size > smallFile {
			return x.writeFile(e, tr, x.buf)
		}
		data := make([]byte, hdr.Size)
		if _, err := io.ReadFull(tr, data); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		x.jobs <- fileJob{tarEntry: e, data: data}
		return nil
	case tar.TypeSymlink:
		// Made here rather than by a worker, so that the symlink exists
		// when a later entry's parents are checked against it.
		if err := x.dst.clear(name); err != nil {
			return err
		}
		if err := x.dst.root.Symlink(hdr.Linkname, name); err != nil {
			return err
		}
		x.record(name)
		return nil // a symlink's times are not worth a syscall
	default:
		return fmt.Errorf("%s: entry of type %q: only directories, files and symlinks can be unpacked", name, hdr.Typeflag)
	}
}

func (x *extractor) record(name string) {
	x.mu.Lock()
	x.created = append(x.created, name)
	x.mu.Unlock()
}

// writeFile creates e with the content of r. Its parents exist.
func (x *extractor) writeFile(e tarEntry, r io.Reader, buf []byte) error {
	root := x.dst.root
	if err := x.dst.clear(e.name); err != nil {
		return err
	}
	// O_EXCL never follows a symlink at name, and clear removed any.
	f, err := root.OpenFile(e.name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	x.record(e.name)
	if buf != nil {
		_, err = io.CopyBuffer(f, r, buf)
	} else {
		_, err = io.Copy(f, r)
	}
	if err == nil {
		err = f.Chmod(e.mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = root.Chtimes(e.name, e.modTime, e.modTime)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", e.name, err)
	}
	return nil
}

// finishDirs gives directories their recorded modes and times, deepest
// first so that setting a child's time does not change its parent's.
func (x *extractor) finishDirs() error {
	for _, e := range slices.Backward(x.dirs) {
		if err := x.dst.root.Chmod(e.name, e.mode); err != nil {
			return fmt.Errorf("unpack: %w", err)
		}
		if err := x.dst.root.Chtimes(e.name, e.modTime, e.modTime); err != nil {
			return fmt.Errorf("unpack: %w", err)
		}
	}
	return nil
}

func (x *extractor) rollback() {
	for _, name := range slices.Backward(x.created) {
		x.dst.root.Remove(name)
	}
	x.dst.removeMade()
}
