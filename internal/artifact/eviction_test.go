package artifact_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/artifact"
)

// lruStore holds four 100-byte blobs used in order: blobs[0] longest ago.
func lruStore(t *testing.T) (*artifact.Blobs, []artifact.Digest) {
	b := openBlobs(t)
	var ds []artifact.Digest
	base := time.Now().Add(-time.Hour)
	for i, c := range "abcd" {
		d := put(t, b, strings.Repeat(string(c), 100))
		at := base.Add(time.Duration(i) * time.Minute)
		if err := os.Chtimes(blobFile(b, d), at, at); err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
	}
	return b, ds
}

func held(b *artifact.Blobs, ds []artifact.Digest) string {
	var s []byte
	for i, d := range ds {
		if b.Has(d) {
			s = append(s, "abcd"[i])
		}
	}
	return string(s)
}

func TestEvictLeastRecentlyUsedFirst(t *testing.T) {
	b, ds := lruStore(t)
	removed, freed, err := b.Evict(250, nil)
	if err != nil || removed != 2 || freed != 200 {
		t.Fatalf("Evict = %d, %d, %v; want 2, 200", removed, freed, err)
	}
	if got := held(b, ds); got != "cd" {
		t.Errorf("left %q, want the two most recently used, cd", got)
	}
	if size, _ := b.Size(); size != 200 {
		t.Errorf("Size = %d", size)
	}
}

func TestEvictHonoursKeep(t *testing.T) {
	b, ds := lruStore(t)
	keep := func(d artifact.Digest) bool { return d == ds[0] }
	if removed, _, err := b.Evict(200, keep); err != nil || removed != 2 {
		t.Fatalf("Evict = %d, %v", removed, err)
	}
	if got := held(b, ds); got != "ad" {
		t.Errorf("left %q, want the kept a and the newest d", got)
	}
	// When only kept blobs are left, Evict stops short of the limit.
	all := func(artifact.Digest) bool { return true }
	if removed, _, err := b.Evict(0, all); err != nil || removed != 0 {
		t.Errorf("Evict with everything kept = %d, %v", removed, err)
	}
}

func TestEvictCountsOpenAsUse(t *testing.T) {
	b, ds := lruStore(t)
	if _, err := readBlob(b, ds[0]); err != nil {
		t.Fatal(err)
	}
	b.Evict(100, nil)
	if got := held(b, ds); got != "a" {
		t.Errorf("left %q, want a, opened last", got)
	}
}

func TestEvictUnderLimitAndStrays(t *testing.T) {
	b, ds := lruStore(t)
	// Not blobs: a file with a non-digest name, and one in the wrong shard.
	stray := filepath.Join(b.Dir(), "sha256", "00", "notes.txt")
	writeFiles(t, filepath.Dir(stray), "notes.txt", "mine")
	misfiled := filepath.Join(b.Dir(), "sha256", "00", ds[1].Hex())
	writeFiles(t, filepath.Dir(misfiled), ds[1].Hex(), "x")
	// A temporary file abandoned by a writer that died yesterday, and one
	// still being written.
	tmp := filepath.Join(b.Dir(), "tmp")
	writeFiles(t, tmp, "put-old", "partial", "put-new", "partial")
	old := time.Now().Add(-25 * time.Hour)
	os.Chtimes(filepath.Join(tmp, "put-old"), old, old)

	if removed, freed, err := b.Evict(400, nil); err != nil || removed != 0 || freed != 0 {
		t.Fatalf("Evict under the limit = %d, %d, %v", removed, freed, err)
	}
	if size, _ := b.Size(); size != 400 {
		t.Errorf("Size = %d, want 400 (strays not counted)", size)
	}
	b.Evict(0, nil)
	if got := held(b, ds); got != "" {
		t.Errorf("left %q after Evict(0)", got)
	}
	for _, p := range []string{stray, misfiled, filepath.Join(tmp, "put-new")} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("Evict removed %s, which is not its to remove: %v", p, err)
		}
	}
	if _, err := os.Stat(filepath.Join(tmp, "put-old")); !os.IsNotExist(err) {
		t.Errorf("stale temporary file not removed: %v", err)
	}
}
