package sidecar

import (
	"io"
	"sync"

	"github.com/velocity-ci/velocity/internal/lines"
)

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
	mu    sync.Mutex
	split lines.Splitter
	tail  []string
}

func newOutput(prefix string, log *lockedWriter, keep int) *output {
	o := &output{prefix: []byte(prefix), log: log, keep: keep}
	o.split.Emit = o.emit
	return o
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.split.Write(p)
}

// flush emits a last line that had no newline; call it once the process
// has exited.
func (o *output) flush() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.split.Flush()
}

func (o *output) emit(line []byte) {
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
	out := append([]string(nil), o.tail...)
	if p := o.split.Partial(); len(p) > 0 {
		out = append(out, string(p))
	}
	if len(out) > o.keep {
		out = out[len(out)-o.keep:]
	}
	return out
}
