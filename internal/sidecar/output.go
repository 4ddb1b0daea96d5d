package sidecar

import (
	"bytes"
	"io"
	"sync"
)

// maxLine bounds how much of a line without newline is held back: a
// program printing megabytes without one must not grow memory unbounded.
const maxLine = 64 << 10

// lockedWriter serialises whole lines from several sidecars into one log.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) writeLine(prefix, line []byte) {
	if l == nil || l.w == nil {
		return
	}
	buf := make([]byte, 0, len(prefix)+len(line)+1)
	buf = append(append(append(buf, prefix...), line...), '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	// The log is for people; a failing log must not fail the sidecar, and
	// the executor would stop forwarding output on an error anyway.
	_, _ = l.w.Write(buf)
}

// output splits a process's output into lines, forwards them prefixed to
// the log and remembers the last few for error messages.
type output struct {
	prefix []byte
	log    *lockedWriter
	keep   int

	// mu guards the fields below: the executor writes from its goroutine
	// while a failed start reads the tail from another.
	mu      sync.Mutex
	partial []byte
	tail    []string
}

func newOutput(prefix string, log *lockedWriter, keep int) *output {
	return &output{prefix: []byte(prefix), log: log, keep: keep}
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.partial = append(o.partial, p...)
	for {
		i := bytes.IndexByte(o.partial, '\n')
		if i < 0 {
			break
		}
		o.emit(o.partial[:i])
		o.partial = o.partial[i+1:]
	}
	if len(o.partial) >= maxLine {
		o.emit(o.partial)
		o.partial = o.partial[:0]
	}
	// Compact so the buffer does not keep every byte ever written.
	o.partial = append([]byte(nil), o.partial...)
	return len(p), nil
}

// flush emits a last line that had no newline; call it once the process
// has exited.
func (o *output) flush() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.partial) > 0 {
		o.emit(o.partial)
		o.partial = nil
	}
}

func (o *output) emit(line []byte) {
	line = bytes.TrimSuffix(line, []byte("\r"))
	o.log.writeLine(o.prefix, line)
	o.tail = append(o.tail, string(line))
	if len(o.tail) > o.keep {
		o.tail = o.tail[len(o.tail)-o.keep:]
	}
}

// lines returns the last lines, including one still without newline.
func (o *output) lines() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	lines := append([]string(nil), o.tail...)
	if len(o.partial) > 0 {
		lines = append(lines, string(bytes.TrimSuffix(o.partial, []byte("\r"))))
	}
	if len(lines) > o.keep {
		lines = lines[len(lines)-o.keep:]
	}
	return lines
}
