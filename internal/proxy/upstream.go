package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"sync"
	"syscall"
	"time"
)

// upstreamConn is one persistent HTTP/1.1 connection to a target, used by
// one exchange at a time and read and written only by that exchange's
// goroutine: no background reader, no handoff between goroutines.
type upstreamConn struct {
	nc        net.Conn
	rd        *bufio.Reader // reads through sendAndRead (upstreamReader)
	wr        *bufio.Writer // writes through upstreamWriter
	idleSince time.Time
	reused    bool // served an exchange before: it may have been closed while idle

	// For open, made once per connection so a check allocates nothing.
	raw   syscall.RawConn // nil for TLS
	peek  func(fd uintptr) bool
	alive bool
	b     [1]byte

	// Send-then-wait (see sendAndRead): while deferred is set (in flush),
	// wr's bytes are left in out for the next read of rd to send.
	deferred bool
	out      []byte // aliases wr's buffer: valid until wr is written again
	check    bool   // sendAndRead first checks the idle connection (open)
	exch     func(fd uintptr) bool
	x        rawExchange
}

// rawExchange is sendAndRead's state, shared with its raw read callback
// (exchangeSocket), kept in the connection so a call allocates nothing.
type rawExchange struct {
	p    []byte // the read buffer
	n    int    // bytes read into p
	err  error  // the read's or write's error, or errStaleConn
	sent bool   // the head was written (or the callback gave up on it)
}

func (uc *upstreamConn) close() { _ = uc.nc.Close() }

// open reports whether the upstream has not closed (or written to) the
// idle connection, with one non-blocking peek at the socket. Every request
// on a reused connection pays for it (one syscall; for requests without a
// body, sendAndRead makes it as part of sending): bytes the upstream wrote
// after its last response ended (a body on a HEAD response, bytes past its
// Content-Length) would otherwise be read as the next client's response.
func (uc *upstreamConn) open() bool {
	if uc.raw == nil {
		// TLS: stray bytes in the same read as the response were caught
		// by put; a closed connection is found by the next exchange.
		return true
	}
	uc.alive = false
	if err := uc.raw.Read(uc.peek); err != nil {
		return false
	}
	return uc.alive
}

// peekSocket is open's non-blocking peek at the socket.
func (uc *upstreamConn) peekSocket(fd uintptr) bool {
	_, err := peekFD(fd, &uc.b)
	// Nothing to read is the healthy idle state; EOF or stray bytes
	// mean the connection is unusable.
	uc.alive = errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EWOULDBLOCK)
	return true
}

// upstreamPool keeps a target's idle connections, most recently used on
// top so the warm ones are reused and the cold ones age out.
type upstreamPool struct {
	addr        string
	tls         *tls.Config // nil for http targets
	dialer      *net.Dialer
	maxIdle     int
	idleTimeout time.Duration

	mu   sync.Mutex
	idle []*upstreamConn
}

// freshFor bounds how long a connection may have been idle to carry a
// request that cannot be replayed: servers close idle connections after a
// few seconds (Node.js after 5s), and a request sent into a connection the
// server is closing may or may not have been processed.
const freshFor = time.Second

func newUpstreamPool(u *url.URL, dialTimeout time.Duration, maxIdle int) *upstreamPool {
	up := &upstreamPool{
		addr:        u.Host,
		dialer:      &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second},
		maxIdle:     maxIdle,
		idleTimeout: 90 * time.Second,
	}
	if u.Scheme == "https" {
		up.tls = &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
	}
	return up
}

// get returns an idle connection or dials one. A request that cannot be
// replayed only takes a connection used within freshFor. With unchecked,
// an idle connection is returned without open's check, which the caller
// then makes itself (sendAndRead).
func (up *upstreamPool) get(ctx context.Context, replayable, unchecked bool, now time.Time) (*upstreamConn, error) {
	up.mu.Lock()
	for n := len(up.idle); n > 0; n = len(up.idle) {
		uc := up.idle[n-1]
		idle := now.Sub(uc.idleSince)
		if idle > up.idleTimeout {
			// Everything below the top is older still.
			stale := up.idle
			up.idle = up.idle[:0]
			up.mu.Unlock()
			for _, c := range stale {
				c.close()
			}
			return up.dial(ctx)
		}
		if !replayable && idle > freshFor {
			break
		}
		up.idle[n-1] = nil
		up.idle = up.idle[:n-1]
		// The check is a syscall: made without the lock, so exchanges on
		// other connections to this target do not queue behind it (nor
		// behind a thread preempted in it on a busy machine).
		up.mu.Unlock()
		if unchecked && uc.raw != nil || uc.open() {
			return uc, nil
		}
		uc.close()
		up.mu.Lock()
	}
	up.mu.Unlock()
	return up.dial(ctx)
}

func (up *upstreamPool) dial(ctx context.Context) (*upstreamConn, error) {
	nc, err := up.dialer.DialContext(ctx, "tcp", up.addr)
	if err != nil {
		return nil, err //nolint:wrapcheck // a *net.OpError marks a dial failure for passive health
	}
	if up.tls != nil {
		tc := tls.Client(nc, up.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = nc.Close()
			return nil, fmt.Errorf("tls handshake with %s: %w", up.addr, err)
		}
		nc = tc
	}
	uc := &upstreamConn{nc: nc}
	uc.rd = bufio.NewReaderSize(upstreamReader{uc}, 8<<10)
	uc.wr = bufio.NewWriterSize(upstreamWriter{uc}, 8<<10)
	if sc, ok := nc.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			uc.raw, uc.peek, uc.exch = raw, uc.peekSocket, uc.exchangeSocket
		}
	}
	return uc, nil
}

// Sending a request head and waiting for the response costs, through
// net.Conn, a write and then a read that finds nothing yet (EAGAIN) before
// the goroutine waits for the socket; with the idle check (open) before
// it, four syscalls. The runtime clears the socket's readiness before any
// read, so a wait can only skip that first read when the request is
// written after the clearing: sendAndRead does so, inside one raw read.
// It first reads the idle connection without blocking, which is open's
// check done as a read (anything there came before the request), then
// writes the head and waits: three syscalls.

// errStaleConn: an idle upstream connection had been closed by the
// upstream, or had bytes nobody asked for (see open). Nothing was sent on
// it, so the request goes on another connection.
var errStaleConn = errors.New("idle upstream connection closed or unusable")

// flush flushes wr. With deferred, on connections with a raw socket (not
// TLS), it leaves the bytes for the next read of rd to send (sendAndRead),
// which first checks the idle connection when check is set; the caller
// must read rd before writing wr again.
func (uc *upstreamConn) flush(deferred, check bool) error {
	if !deferred || uc.raw == nil {
		return uc.wr.Flush() //nolint:wrapcheck // net.Conn's errors
	}
	// Only this Flush is deferred: bufio.Writer writes a full buffer
	// while the head is written, and reuses the buffer after.
	uc.deferred, uc.check = true, check
	err := uc.wr.Flush()
	uc.deferred = false
	return err //nolint:wrapcheck // net.Conn's errors
}

// upstreamWriter is wr's destination: the connection, unless a flush is
// deferred.
type upstreamWriter struct{ uc *upstreamConn }

func (w upstreamWriter) Write(p []byte) (int, error) {
	uc := w.uc
	if uc.deferred && uc.out == nil {
		// bufio.Writer flushes its whole buffer at once and is not
		// written again before rd is read: p stays valid until then.
		uc.out = p
		uc.deferred = false
		return len(p), nil
	}
	if uc.out != nil {
		// Never in practice (forward reads after its one deferred
		// flush), but order must hold: the deferred bytes go first.
		if err := uc.sendPending(); err != nil {
			return 0, err
		}
	}
	return uc.nc.Write(p) //nolint:wrapcheck // net.Conn's errors, as without the wrapper
}

// upstreamReader is rd's source: the connection, sending deferred bytes
// first.
type upstreamReader struct{ uc *upstreamConn }

func (r upstreamReader) Read(p []byte) (int, error) {
	if r.uc.out != nil {
		return r.uc.sendAndRead(p)
	}
	return r.uc.nc.Read(p) //nolint:wrapcheck // net.Conn's errors, as without the wrapper
}

// sendPending writes deferred bytes through net.Conn.
func (uc *upstreamConn) sendPending() error {
	out := uc.out
	uc.out = nil
	_, err := uc.nc.Write(out)
	return err //nolint:wrapcheck // net.Conn's errors
}

// sendAndRead checks the idle connection if asked, writes the deferred
// bytes and reads the response into p, with one raw read (see above). The
// read deadline applies as to net.Conn.Read. A write that the socket does
// not take at once, which a head in an idle connection's empty send buffer
// never meets in practice, finishes through net.Conn.
func (uc *upstreamConn) sendAndRead(p []byte) (int, error) {
	uc.x = rawExchange{p: p}
	err := uc.raw.Read(uc.exch)
	uc.x.p = nil
	if err != nil {
		uc.out = nil
		return 0, uc.opError("read", err)
	}
	if uc.x.err != nil {
		uc.out = nil
		return 0, uc.x.err
	}
	if uc.out != nil { // the socket took part of the head: send the rest
		if err := uc.sendPending(); err != nil {
			return 0, err
		}
		return uc.nc.Read(p) //nolint:wrapcheck // net.Conn's errors
	}
	if uc.x.n == 0 {
		return 0, io.EOF
	}
	return uc.x.n, nil
}

// exchangeSocket is sendAndRead's raw read: called once the runtime has
// cleared the socket's readiness, then again whenever it is readable.
func (uc *upstreamConn) exchangeSocket(fd uintptr) bool {
	if !uc.x.sent {
		uc.x.sent = true
		if uc.check {
			uc.check = false
			// open's check, as a read: the idle connection must have
			// nothing to read and not be closed.
			_, err := readFD(fd, uc.x.p)
			if !errors.Is(err, syscall.EAGAIN) {
				uc.x.err = errStaleConn
				return true
			}
		}
		for len(uc.out) > 0 {
			n, err := writeFD(fd, uc.out)
			if err != nil {
				if err == syscall.EAGAIN {
					return true // sendAndRead sends the rest
				}
				uc.out = nil
				uc.x.err = uc.opError("write", err)
				return true
			}
			uc.out = uc.out[n:]
		}
		uc.out = nil
		return false // wait for the response
	}
	n, err := readFD(fd, uc.x.p)
	if err == syscall.EAGAIN {
		return false // woken early; wait again
	}
	if err != nil {
		uc.x.err = uc.opError("read", err)
		return true
	}
	uc.x.n = n
	return true
}

// opError dresses an error from a raw read or write as net.Conn's Read or
// Write would return it, since error texts reach clients in 502 answers.
func (uc *upstreamConn) opError(op string, err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) { // the raw read's own ("raw-read")
		e := *oe
		e.Op = op
		return &e
	}
	return &net.OpError{Op: op, Net: "tcp", Source: uc.nc.LocalAddr(), Addr: uc.nc.RemoteAddr(), Err: os.NewSyscallError(op, err)}
}

// put returns a connection whose last exchange ended cleanly. One with
// bytes read past the response is closed instead: they belong to no
// request (see open).
func (up *upstreamPool) put(uc *upstreamConn, now time.Time) {
	if uc.rd.Buffered() > 0 {
		uc.close()
		return
	}
	uc.idleSince, uc.reused = now, true
	up.mu.Lock()
	if len(up.idle) < up.maxIdle {
		up.idle = append(up.idle, uc)
		up.mu.Unlock()
		return
	}
	up.mu.Unlock()
	uc.close()
}

// closeIdle closes every idle connection.
func (up *upstreamPool) closeIdle() {
	up.mu.Lock()
	idle := up.idle
	up.idle = nil
	up.mu.Unlock()
	for _, uc := range idle {
		uc.close()
	}
}
