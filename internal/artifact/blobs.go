package artifact

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/velocity-ci/velocity/internal/fault"
)

var (
	// ErrNotFound is wrapped by errors about a blob the store does not
	// hold. It is the kind fault.NotFound itself.
	ErrNotFound = fault.NotFound
	// ErrCorrupt is wrapped by errors about content that no longer matches
	// its digest. The store deletes such a blob when it finds one, so the
	// next Put of the same content repairs it.
	ErrCorrupt = errors.New("corrupt: content does not match its digest")
)

// Blobs is a content-addressed store in a directory. It holds no state of
// its own besides the directory, so any number of Blobs, in any number of
// processes, may share one directory; all methods are safe for concurrent
// use.
type Blobs struct {
	dir string
	// bufs holds copy buffers, so that storing thousands of small files
	// does not allocate a large buffer for each.
	bufs sync.Pool
}

// copyBuffer is the buffer size for streaming content. Larger than io.Copy's
// 32 KiB so that a 100 MB file costs hundreds, not thousands, of syscalls;
// small enough that a few concurrent copies do not matter.
const copyBuffer = 256 << 10

// staleTemp is how old an abandoned temporary file must be before Evict
// removes it. Another process may still be writing a young one; nothing
// takes a day to stream.
const staleTemp = 24 * time.Hour

// OpenBlobs opens (creating if needed) the store in dir.
func OpenBlobs(dir string) (*Blobs, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("blob store %s: %w", dir, err)
	}
	b := &Blobs{dir: abs}
	b.bufs.New = func() any { return new([copyBuffer]byte) }
	for _, d := range []string{b.blobDir(), b.tempDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("blob store %s: %w", dir, err)
		}
	}
	return b, nil
}

// Dir is the store's directory.
func (b *Blobs) Dir() string { return b.dir }

func (b *Blobs) blobDir() string { return filepath.Join(b.dir, "sha256") }

// tempDir holds content being written. It is inside the store so that the
// final rename never crosses file systems.
func (b *Blobs) tempDir() string { return filepath.Join(b.dir, "tmp") }

// Put stores what r yields and returns its digest and length. Content is
// streamed: memory use does not depend on its size.
//
// Put does not fsync. A blob cut short by a power failure is caught by the
// size check in reuse on the next Put of that content, and by digest
// verification on every read, so durability costs a cache miss at worst,
// while syncing every small output would cost milliseconds each.
func (b *Blobs) Put(r io.Reader) (Digest, int64, error) {
	tmp, err := os.CreateTemp(b.tempDir(), "put-*")
	if err != nil {
		return "", 0, fmt.Errorf("blob store: %w", err)
	}
	placed := false
	defer func() {
		if !placed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	n, err := b.copy(io.MultiWriter(tmp, h), r)
	if err != nil {
		return "", 0, fmt.Errorf("blob store: writing content: %w", err)
	}
	// Read-only, so that nothing that gets hold of a blob's path by
	// accident edits shared content in place.
	if err := tmp.Chmod(0o400); err != nil {
		return "", 0, fmt.Errorf("blob store: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", 0, fmt.Errorf("blob store: writing content: %w", err)
	}
	d := sumDigest(h)
	final, _ := blobPath(b.dir, d) // sumDigest is always valid
	if b.reuse(final, n) {
		return d, n, nil
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o700); err != nil {
		return "", 0, fmt.Errorf("blob store: %w", err)
	}
	// Rename replaces atomically: a concurrent writer of the same content
	// either finds our blob or replaces it with identical bytes.
	if err := os.Rename(tmp.Name(), final); err != nil {
		return "", 0, fmt.Errorf("blob store: %w", err)
	}
	placed = true
	return d, n, nil
}

// reuse reports whether the blob at p, n bytes long, is already stored,
// and marks it used if so. A blob of the wrong size is what a crash can
// leave behind and is not reused; one evicted between the check and the
// touch is not either.
func (b *Blobs) reuse(p string, n int64) bool {
	fi, err := os.Lstat(p)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != n {
		return false
	}
	err = touch(p)
	return err == nil || !errors.Is(err, fs.ErrNotExist)
}

// copy is io.Copy with a pooled buffer of our size. The struct hides r's
// WriteTo, which would bring its own 32 KiB buffer.
func (b *Blobs) copy(w io.Writer, r io.Reader) (int64, error) {
	buf := b.bufs.Get().(*[copyBuffer]byte)
	defer b.bufs.Put(buf)
	return io.CopyBuffer(w, struct{ io.Reader }{r}, buf[:])
}

// PutFile stores the content of the file at path.
func (b *Blobs) PutFile(path string) (Digest, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, fmt.Errorf("blob store: %w", err)
	}
	defer f.Close()
	return b.putFile(f)
}

// putFile stores the content of f. It hashes the file before copying it:
// outputs are often identical from run to run, and content already stored
// then costs one read instead of a write, a rename and a delete. New
// content is read twice, the second time from the page cache.
func (b *Blobs) putFile(f *os.File) (Digest, int64, error) {
	h := sha256.New()
	n, err := b.copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("blob store: reading content: %w", err)
	}
	d := sumDigest(h)
	if p, _ := blobPath(b.dir, d); b.reuse(p, n) {
		return d, n, nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", 0, fmt.Errorf("blob store: %w", err)
	}
	// The file may have changed since it was hashed; Put's digest is of
	// what it actually stored.
	return b.Put(f)
}

// Open returns a reader of d's content that checks it against d: the Read
// that reaches the end fails with an error wrapping ErrCorrupt if the
// content has changed since it was stored (and the blob is deleted). A
// caller must therefore read to io.EOF before trusting what it read. A
// blob the store does not hold is an error wrapping ErrNotFound.
func (b *Blobs) Open(d Digest) (io.ReadCloser, error) {
	p, err := blobPath(b.dir, d)
	if err != nil {
		return nil, fmt.Errorf("blob store: %w", err)
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("blob %s: %w", d, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", d, err)
	}
	// Best effort: a store on a read-only mount still serves reads, it
	// just cannot remember what was used.
	touch(p)
	return newVerifier(f, p, d), nil
}

// Has reports whether the store holds d. It does not read the content.
func (b *Blobs) Has(d Digest) bool {
	p, err := blobPath(b.dir, d)
	if err != nil {
		return false
	}
	fi, err := os.Lstat(p)
	return err == nil && fi.Mode().IsRegular()
}

// touch marks p as just used, for least-recently-used eviction.
func touch(p string) error {
	now := time.Now()
	return os.Chtimes(p, now, now)
}
