package runtime

import (
	"context"
	"io"
	"strings"
	"sync"
)

// followBuffer bounds what one Logs reader may fall behind by; past it,
// output is dropped for that reader, never held up for the instance.
const followBuffer = 1 << 20

// followers are the open Logs readers of one instance log. Its methods
// are called with the log's mutex held.
type followers struct {
	set    map[*follower]struct{}
	closed bool // the log is closed: new readers get the tail, then EOF
}

func (fs *followers) write(b []byte) {
	for f := range fs.set {
		f.write(b)
	}
}

func (fs *followers) closeAll() {
	fs.closed = true
	for f := range fs.set {
		f.end()
	}
	fs.set = nil
}

// follower is one Logs reader: a bounded buffer the log writes to and
// the reader drains.
type follower struct {
	mu      sync.Mutex
	cond    *sync.Cond
	buf     []byte
	dropped bool
	done    bool
	stop    func() bool // unregisters the ctx watcher
	leave   func()      // removes the follower from the log
}

func (f *follower) write(b []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done {
		return
	}
	if len(f.buf)+len(b) > followBuffer {
		f.dropped = true
		return
	}
	if f.dropped {
		f.buf = append(f.buf, notePrefix+"log reader too slow: lines dropped\n"...)
		f.dropped = false
	}
	f.buf = append(f.buf, b...)
	f.cond.Signal()
}

// end makes Read return io.EOF once the buffer is drained.
func (f *follower) end() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.done = true
	f.cond.Broadcast()
}

func (f *follower) Read(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for len(f.buf) == 0 && !f.done {
		f.cond.Wait()
	}
	if len(f.buf) == 0 {
		return 0, io.EOF
	}
	n := copy(p, f.buf)
	f.buf = f.buf[n:]
	return n, nil
}

func (f *follower) Close() error {
	f.stop()
	f.leave()
	f.end()
	return nil
}

// follow opens a Logs reader: the last tail lines, then what is written.
// Taking the tail and joining the followers under one lock means no line
// is missed or repeated between the two.
func (l *instanceLog) follow(ctx context.Context, tail int) io.ReadCloser {
	f := &follower{}
	f.cond = sync.NewCond(&f.mu)
	l.mu.Lock()
	if lines := l.lastLinesLocked(tail); len(lines) > 0 {
		f.buf = []byte(strings.Join(lines, "\n") + "\n")
	}
	if l.followers.closed {
		f.done = true
	} else {
		if l.followers.set == nil {
			l.followers.set = map[*follower]struct{}{}
		}
		l.followers.set[f] = struct{}{}
	}
	l.mu.Unlock()
	f.leave = func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		delete(l.followers.set, f)
	}
	f.stop = context.AfterFunc(ctx, func() {
		f.leave()
		f.end()
	})
	return f
}
