package artifact_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/artifact"
)

func TestPutStoresOnceAndTouches(t *testing.T) {
	b := openBlobs(t)
	d := put(t, b, "hello")
	if want := "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"; string(d) != want {
		t.Fatalf("digest %s, want %s", d, want)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(blobFile(b, d), old, old); err != nil {
		t.Fatal(err)
	}
	if again := put(t, b, "hello"); again != d {
		t.Fatalf("second Put: %s, want %s", again, d)
	}
	fi, err := os.Stat(blobFile(b, d))
	if err != nil {
		t.Fatal(err)
	}
	if !fi.ModTime().After(old.Add(time.Minute)) {
		t.Errorf("a Put of stored content did not touch the blob")
	}
	if size, err := b.Size(); err != nil || size != 5 {
		t.Errorf("Size = %d, %v; want 5 (one copy)", size, err)
	}
	assertNoTemps(t, b)
	if got, err := readBlob(b, d); err != nil || got != "hello" {
		t.Errorf("read back %q, %v", got, err)
	}
	if !b.Has(d) || b.Has(put(t, openBlobs(t), "other")) {
		t.Error("Has is wrong")
	}
}

func TestPutFile(t *testing.T) {
	b := openBlobs(t)
	p := filepath.Join(t.TempDir(), "f")
	writeFiles(t, filepath.Dir(p), "f", "content")
	d, n, err := b.PutFile(p)
	if err != nil || n != 7 || d != put(t, b, "content") {
		t.Fatalf("PutFile = %s, %d, %v", d, n, err)
	}
	if _, _, err := b.PutFile(p + ".missing"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestOpenMissingAndInvalid(t *testing.T) {
	b := openBlobs(t)
	d := put(t, openBlobs(t), "elsewhere")
	if _, err := b.Open(d); !errors.Is(err, artifact.ErrNotFound) {
		t.Errorf("missing blob: %v, want ErrNotFound", err)
	}
	if _, err := b.Open(artifact.Digest("sha256:../../../etc/passwd")); err == nil || errors.Is(err, artifact.ErrNotFound) {
		t.Errorf("invalid digest: %v, want a validation error", err)
	}
	if b.Has(artifact.Digest("../x")) {
		t.Error("Has accepted an invalid digest")
	}
}

func TestOpenDetectsTamperingAndDeletes(t *testing.T) {
	b := openBlobs(t)
	content := bytes.Repeat([]byte("velocity "), 100_000) // several reads long
	d := put(t, b, string(content))
	tamper(t, b, d)

	r, err := b.Open(d)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.Copy(io.Discard, r)
	if !errors.Is(err, artifact.ErrCorrupt) {
		t.Fatalf("reading a tampered blob: %v, want ErrCorrupt", err)
	}
	if _, err := r.Read(make([]byte, 10)); !errors.Is(err, artifact.ErrCorrupt) {
		t.Errorf("Read after the failure: %v, want the same error again", err)
	}
	r.Close()
	if b.Has(d) {
		t.Error("the corrupt blob is still in the store")
	}
	if _, err := b.Open(d); !errors.Is(err, artifact.ErrNotFound) {
		t.Errorf("Open after deletion: %v", err)
	}
	// Storing the content again repairs the store.
	put(t, b, string(content))
	if got, err := readBlob(b, d); err != nil || got != string(content) {
		t.Errorf("after repair: %d bytes, %v", len(got), err)
	}
}

func TestPutReplacesTruncatedBlob(t *testing.T) {
	// What a power failure after an unsynced rename can leave behind.
	b := openBlobs(t)
	d := put(t, b, "complete content")
	p := blobFile(b, d)
	os.Chmod(p, 0o644)
	if err := os.Truncate(p, 0); err != nil {
		t.Fatal(err)
	}
	put(t, b, "complete content")
	if got, err := readBlob(b, d); err != nil || got != "complete content" {
		t.Errorf("read %q, %v", got, err)
	}
}

func TestOpenTouches(t *testing.T) {
	b := openBlobs(t)
	d := put(t, b, "x")
	old := time.Now().Add(-time.Hour)
	os.Chtimes(blobFile(b, d), old, old)
	if _, err := readBlob(b, d); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(blobFile(b, d))
	if !fi.ModTime().After(old.Add(time.Minute)) {
		t.Error("Open did not touch the blob")
	}
}

func TestConcurrentPutOfSameContent(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "blobs")
	content := make([]byte, 1<<20)
	rand.Read(content)
	const writers = 16
	digests := make([]artifact.Digest, writers)
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			// Separate Blobs on one directory, as separate processes have.
			b, err := artifact.OpenBlobs(dir)
			if err == nil {
				digests[i], _, err = b.Put(bytes.NewReader(content))
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i := range writers {
		if errs[i] != nil || digests[i] != digests[0] {
			t.Fatalf("writer %d: %s, %v (writer 0: %s)", i, digests[i], errs[i], digests[0])
		}
	}
	b, _ := artifact.OpenBlobs(dir)
	if got, err := readBlob(b, digests[0]); err != nil || got != string(content) {
		t.Fatalf("read back %d bytes, %v", len(got), err)
	}
	if size, _ := b.Size(); size != int64(len(content)) {
		t.Errorf("Size = %d, want %d", size, len(content))
	}
	assertNoTemps(t, b)
}

func TestPutMemoryStaysFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 400 MB")
	}
	const size = 200 << 20
	src := filepath.Join(t.TempDir(), "big")
	f, err := os.Create(src)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	rand.Read(chunk)
	for range size / len(chunk) {
		f.Write(chunk)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	chunk = nil

	b := openBlobs(t)
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	probe := &heapProbe{r: in, base: before.HeapAlloc}
	d, n, err := b.Put(probe)
	if err != nil || n != size {
		t.Fatalf("Put = %d, %v", n, err)
	}
	const bound = 32 << 20 // generous: the store needs well under 1 MB
	t.Logf("peak heap growth while storing %d MB: %d KB", size>>20, probe.peak>>10)
	if probe.peak > bound {
		t.Errorf("heap grew by %d MB while storing %d MB", probe.peak>>20, size>>20)
	}
	// Reading back streams too.
	r, err := b.Open(d)
	if err != nil {
		t.Fatal(err)
	}
	probe = &heapProbe{r: r, base: before.HeapAlloc}
	if _, err := io.Copy(io.Discard, probe); err != nil {
		t.Fatal(err)
	}
	r.Close()
	if probe.peak > bound {
		t.Errorf("heap grew by %d MB while reading %d MB", probe.peak>>20, size>>20)
	}
}

// heapProbe samples the heap every few megabytes read through it.
type heapProbe struct {
	r          io.Reader
	base, peak uint64
	read, next int
}

func (p *heapProbe) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.read += n
	if p.read >= p.next {
		p.next = p.read + 8<<20
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		if m.HeapAlloc > p.base {
			p.peak = max(p.peak, m.HeapAlloc-p.base)
		}
	}
	return n, err
}

func assertNoTemps(t *testing.T, b *artifact.Blobs) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(b.Dir(), "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) > 0 {
		t.Errorf("%d temporary files left in the store", len(entries))
	}
}

// TestConcurrentPutFromProcesses stores the same content from several
// processes at once: this test binary, run again as a helper.
func TestConcurrentPutFromProcesses(t *testing.T) {
	if dir := os.Getenv("ARTIFACT_HELPER_STORE"); dir != "" {
		b, err := artifact.OpenBlobs(dir)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 50 {
			put(t, b, strings.Repeat("shared ", 10_000))
			put(t, b, fmt.Sprintf("own %d %d", os.Getpid(), i))
		}
		return
	}
	dir := filepath.Join(t.TempDir(), "blobs")
	const procs = 4
	cmds := make([]*exec.Cmd, procs)
	for i := range cmds {
		cmds[i] = exec.Command(os.Args[0], "-test.run=^TestConcurrentPutFromProcesses$", "-test.count=1")
		cmds[i].Env = append(os.Environ(), "ARTIFACT_HELPER_STORE="+dir)
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("helper: %v", err)
		}
	}
	b, _ := artifact.OpenBlobs(dir)
	shared := strings.Repeat("shared ", 10_000)
	sum := sha256.Sum256([]byte(shared))
	if got, err := readBlob(b, artifact.Digest("sha256:"+hex.EncodeToString(sum[:]))); err != nil || got != shared {
		t.Fatalf("shared content: %d bytes, %v", len(got), err)
	}
	if size, _ := b.Size(); size < int64(len(shared)) || size > int64(len(shared))+procs*50*32 {
		t.Errorf("Size = %d: shared content stored more than once?", size)
	}
	assertNoTemps(t, b)
}

// The blob store is in the data directory: nothing in it is readable by
// anyone but its owner.
func TestBlobStoreIsPrivate(t *testing.T) {
	b := openBlobs(t)
	d := put(t, b, "hello")
	for p := blobFile(b, d); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s is %v", p, perm)
		}
		if filepath.Base(p) == "blobs" {
			break
		}
	}
}
