package containers

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/moby/moby/client"
	"golang.org/x/sys/unix"

	"github.com/velocity-ci/velocity/internal/runtime"
	"github.com/velocity-ci/velocity/internal/secret"
)

// output copies a container's output from the engine's log into the
// instance log. Each run of the container is followed from where the
// previous one ended: the engine's log of a container spans its restarts,
// and every message carries the engine's timestamp, so a run's follow
// asks for messages since the last one seen and skips that one. Reading
// the log (rather than attaching before the start) loses nothing a
// program prints at once: the engine records it before anyone reads.
type output struct {
	log     *runtime.Log
	secrets [][]byte

	mu   sync.Mutex
	last time.Time // timestamp of the last message copied
}

// follow copies the container's output until the engine ends the stream
// (the container stopped) or ctx ends.
func (o *output) follow(ctx context.Context, c *client.Client, cid string) {
	o.mu.Lock()
	since := o.last
	o.mu.Unlock()
	opts := client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Follow: true, Timestamps: true}
	if !since.IsZero() {
		opts.Since = since.Format(time.RFC3339Nano)
	}
	rc, err := c.ContainerLogs(ctx, cid, opts)
	if err != nil {
		if ctx.Err() == nil {
			o.log.Note(fmt.Sprintf("cannot read the container's output: %v", err))
		}
		return
	}
	defer rc.Close()
	// One masker per run, as for a process: a run's output is one stream.
	m := secret.NewMasker(o.log, o.secrets)
	defer func() {
		_ = m.Flush()
		o.log.EndOfStream()
	}()
	br := bufio.NewReaderSize(rc, 64<<10)
	var hdr [8]byte
	var buf []byte
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return
		}
		size := binary.BigEndian.Uint32(hdr[4:])
		if cap(buf) < int(size) {
			buf = make([]byte, size)
		}
		buf = buf[:size]
		if _, err := io.ReadFull(br, buf); err != nil {
			return
		}
		ts, msg := splitTimestamp(buf)
		if !since.IsZero() && !ts.After(since) {
			continue // the previous run's, seen already
		}
		if !ts.IsZero() {
			o.mu.Lock()
			o.last = ts
			o.mu.Unlock()
		}
		if hdr[0] == 3 { // the engine's own error about the stream
			o.log.Note(fmt.Sprintf("reading the container's output: %s", bytes.TrimSpace(msg)))
			continue
		}
		_, _ = m.Write(msg)
	}
}

// splitTimestamp splits a log message "2026-01-02T15:04:05.123456789Z
// text" into its time and its text.
func splitTimestamp(b []byte) (time.Time, []byte) {
	sp := bytes.IndexByte(b, ' ')
	if sp < 0 {
		return time.Time{}, b
	}
	ts, err := time.Parse(time.RFC3339Nano, string(b[:sp]))
	if err != nil {
		return time.Time{}, b
	}
	return ts, b[sp+1:]
}

func signalName(n int) string {
	if name := unix.SignalName(unix.Signal(n)); name != "" {
		return name
	}
	return fmt.Sprintf("signal %d", n)
}
