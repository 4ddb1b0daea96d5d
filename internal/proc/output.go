package proc

import (
	"io"
	"os"
	"reflect"
	"time"

	"golang.org/x/sys/unix"
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

// outputPipe feeds one writer, the child's stdout and stderr both, from
// one pipe, as os/exec does for a writer that is not a file. Made here,
// the pipe costs five system calls fewer per child: os/exec sets both
// ends non-blocking and registers both with the runtime's poller, then
// sets the child's end blocking again and unregisters it; only our end
// is read through the poller.
type outputPipe struct {
	r, w *os.File
	dst  io.Writer
	done chan struct{} // closed when the copy has ended
}

func newOutputPipe(dst io.Writer) (*outputPipe, error) {
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
		return nil, os.NewSyscallError("pipe2", err)
	}
	// Non-blocking, os.NewFile puts our end into the poller; the
	// child's end stays blocking, as a child expects.
	if err := unix.SetNonblock(fds[0], true); err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return nil, os.NewSyscallError("fcntl", err)
	}
	return &outputPipe{r: os.NewFile(uintptr(fds[0]), "|0"), w: os.NewFile(uintptr(fds[1]), "|1"), dst: dst, done: make(chan struct{})}, nil
}

// started closes the child's end, which the child now holds, and starts
// the copy.
func (o *outputPipe) started() {
	o.w.Close()
	go func() {
		defer close(o.done)
		// Errors end the copy: the writer's never come (deliver), and a
		// read error, or our end closed by wait, leaves nothing to read.
		_, _ = io.Copy(o.dst, o.r)
	}()
}

// abort closes both ends of a pipe whose child did not start.
func (o *outputPipe) abort() {
	o.r.Close()
	o.w.Close()
}

// wait returns once the copy has delivered everything the pipe will
// carry, or drain has passed: only a process that escaped the tree can
// still hold the pipe open then, and our end is closed on it.
func (o *outputPipe) wait(drain time.Duration) {
	t := time.NewTimer(drain)
	defer t.Stop()
	select {
	case <-o.done:
	case <-t.C:
	}
	o.r.Close()
	<-o.done
}
