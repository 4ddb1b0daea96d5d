package artifact

import (
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"os"
)

// verifier reads a blob and checks its digest when it reaches the end.
// Verifying while streaming, rather than before, reads the content once;
// the price is that callers learn of corruption only at EOF, which is why
// every writer in this package writes somewhere it can discard.
type verifier struct {
	f    *os.File
	path string
	want Digest
	h    hash.Hash
	err  error // sticky: once the end or a failure is reached, every Read returns it
}

func newVerifier(f *os.File, path string, want Digest) *verifier {
	return &verifier{f: f, path: path, want: want, h: sha256.New()}
}

func (v *verifier) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.f.Read(p)
	v.h.Write(p[:n])
	switch {
	case err == io.EOF:
		if got := sumDigest(v.h); got != v.want {
			v.discard()
			v.err = fmt.Errorf("blob %s: content hashes to %s: %w", v.want, got, ErrCorrupt)
			return n, v.err
		}
		v.err = io.EOF
	case err != nil:
		v.err = fmt.Errorf("reading blob %s: %w", v.want, err)
	}
	return n, v.err
}

// discard deletes the corrupt blob, unless it has been replaced since it
// was opened (by a Put that repaired it).
func (v *verifier) discard() {
	opened, err := v.f.Stat()
	if err != nil {
		return
	}
	now, err := os.Lstat(v.path)
	if err == nil && os.SameFile(opened, now) {
		os.Remove(v.path)
	}
}

func (v *verifier) Close() error { return v.f.Close() }
