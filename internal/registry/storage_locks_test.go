package registry

import (
	"fmt"
	"testing"
)

// Asking about upload IDs nobody was given (a viewer may, hundreds of
// times a second) leaves nothing behind in memory.
func TestUnknownUploadsTakeNoLock(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		if _, err := s.uploadSize("app", fmt.Sprintf("%032x", i)); err != errUploadUnknown {
			t.Fatalf("made-up upload %d: %v", i, err)
		}
	}
	n := 0
	s.locks.Range(func(any, any) bool { n++; return true })
	if n != 0 {
		t.Fatalf("%d locks kept for uploads that do not exist", n)
	}
}
