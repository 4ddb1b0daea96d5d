package runtime

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

const (
	// logRotateSize: past this size the log becomes <id>.log.1 (replacing
	// the previous one) and a new file starts, so a chatty service costs
	// at most twice this much disk.
	logRotateSize = 10 << 20
	// ringLines is how many lines LastLines can return: enough for a stack
	// trace in a "never became healthy" message.
	ringLines = 200
	// maxLineLen bounds one line in the ring, so that an instance printing
	// megabytes without a newline cannot grow Velocity's memory. The file
	// gets the whole line.
	maxLineLen = 4096
	// notePrefix marks the supervisor's lines among the instance's own.
	notePrefix = "velocity: "
)

// instanceLog receives an instance's output and the supervisor's notes: it
// streams them to the log file and keeps the last lines in a ring. Write
// never fails, so the copier keeps draining the pipe and the instance never
// blocks on a full pipe because of a full disk.
type instanceLog struct {
	logger  *slog.Logger
	path    string // "" when there is no file
	maxSize int64

	mu      sync.Mutex
	f       *os.File
	size    int64
	midLine bool // the file does not end with a newline
	failed  bool // a write error was logged already

	ring    [ringLines]string
	head    int // index of the oldest line
	n       int
	partial []byte // the ring's current, unterminated line
	cut     bool   // the current line was longer than maxLineLen

	followers followers // readers of Instance.Logs (follow.go)
}

func openInstanceLog(dir, id string, logger *slog.Logger) (*instanceLog, error) {
	l := &instanceLog{logger: logger, maxSize: logRotateSize}
	if dir == "" {
		return l, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("log directory: %w", err)
	}
	l.path = filepath.Join(dir, id+".log")
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *instanceLog) open() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("open log: %w", err)
	}
	l.f, l.size = f, fi.Size()
	return nil
}

// Write implements io.Writer for the output copier.
func (l *instanceLog) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writeFile(b)
	l.addToRing(b)
	l.followers.write(b)
	return len(b), nil
}

// note adds one line of the supervisor's own, on a line of its own even
// when the instance's last output did not end with a newline.
func (l *instanceLog) note(msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.endLine()
	line := notePrefix + msg + "\n"
	if l.midLine {
		line = "\n" + line
	}
	l.writeFile([]byte(line))
	l.addToRing([]byte(notePrefix + msg + "\n"))
	l.followers.write([]byte(line))
}

// endOfStream ends a process's output: a last line without a newline still
// counts as a line.
func (l *instanceLog) endOfStream() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.endLine()
}

func (l *instanceLog) writeFile(b []byte) {
	if l.f == nil || len(b) == 0 {
		return
	}
	if l.size > 0 && l.size+int64(len(b)) > l.maxSize {
		l.rotate()
	}
	n, err := l.f.Write(b)
	l.size += int64(n)
	if n > 0 {
		l.midLine = b[n-1] != '\n'
	}
	if err != nil && !l.failed {
		// Logged once: an instance on a full disk would otherwise flood
		// Velocity's own log; its output keeps reaching the ring.
		l.failed = true
		l.logger.Warn("cannot write instance log", "path", l.path, "err", err)
	}
}

// rotate keeps writing to the old file when it cannot rotate: a log over
// its size beats a lost log.
func (l *instanceLog) rotate() {
	if err := os.Rename(l.path, l.path+".1"); err != nil {
		l.logger.Warn("cannot rotate instance log", "path", l.path, "err", err)
		return
	}
	old := l.f
	if err := l.open(); err != nil {
		l.logger.Warn("cannot reopen instance log after rotation", "path", l.path, "err", err)
		// Still open under its new name: better than nothing.
		return
	}
	old.Close()
	l.midLine = false
}

func (l *instanceLog) addToRing(b []byte) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		chunk := b
		if i >= 0 {
			chunk = b[:i]
		}
		if room := maxLineLen - len(l.partial); len(chunk) > room {
			chunk, l.cut = chunk[:max(room, 0)], true
		}
		l.partial = append(l.partial, chunk...)
		if i < 0 {
			return
		}
		l.pushLine()
		b = b[i+1:]
	}
}

func (l *instanceLog) endLine() {
	if len(l.partial) > 0 || l.cut {
		l.pushLine()
	}
}

func (l *instanceLog) pushLine() {
	s := strings.TrimSuffix(string(l.partial), "\r")
	if l.cut {
		s += " [line cut]"
	}
	l.partial, l.cut = l.partial[:0], false
	if l.n < ringLines {
		l.ring[(l.head+l.n)%ringLines] = s
		l.n++
		return
	}
	l.ring[l.head] = s
	l.head = (l.head + 1) % ringLines
}

func (l *instanceLog) lastLines(n int) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lastLinesLocked(n)
}

func (l *instanceLog) lastLinesLocked(n int) []string {
	n = min(n, l.n)
	if n <= 0 {
		return nil
	}
	out := make([]string, 0, n)
	for k := l.n - n; k < l.n; k++ {
		out = append(out, l.ring[(l.head+k)%ringLines])
	}
	return out
}

func (l *instanceLog) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.followers.closeAll()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	if err != nil {
		return fmt.Errorf("close log: %w", err)
	}
	return nil
}

// copyOutput forwards r to w until EOF or a read deadline. It reads in
// fixed chunks, so nothing but the ring is held in memory.
func copyOutput(w io.Writer, r *os.File) {
	buf := make([]byte, 32*1024)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			_, _ = w.Write(buf[:n])
		}
		if err != nil {
			return
		}
	}
}
