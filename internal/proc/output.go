package proc

import (
	"io"
	"os"
	"reflect"
)

// outputs returns the writers the child's stdout and stderr are given.
func outputs(stdout, stderr io.Writer) (io.Writer, io.Writer) {
	if stdout != nil && sameWriter(stdout, stderr) {
		w := deliver(stdout)
		// The same value for both: os/exec then gives the child one pipe.
		return w, w
	}
	return deliver(stdout), deliver(stderr)
}

// deliver wraps w so that its errors never reach the copy from the pipe:
// os/exec would stop reading, and the child would block on a full pipe or
// die of SIGPIPE because of a log file that filled up.
func deliver(w io.Writer) io.Writer {
	switch w := w.(type) {
	case nil:
		return nil
	case *os.File:
		return w
	}
	return &stream{w: w}
}

// stream forwards writes until the first error, then discards them.
type stream struct {
	w      io.Writer
	failed bool
}

func (s *stream) Write(b []byte) (int, error) {
	if !s.failed {
		if _, err := s.w.Write(b); err != nil {
			s.failed = true
		}
	}
	return len(b), nil
}

// sameWriter reports whether a and b are the same writer; values of types
// that cannot be compared are never the same.
func sameWriter(a, b io.Writer) (same bool) {
	if b == nil || reflect.TypeOf(a) != reflect.TypeOf(b) || !reflect.TypeOf(a).Comparable() {
		return false
	}
	// A comparable struct can still hold an incomparable interface value.
	defer func() {
		if recover() != nil {
			same = false
		}
	}()
	return a == b
}
