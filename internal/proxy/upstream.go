package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"syscall"
	"time"
)

// upstreamConn is one persistent HTTP/1.1 connection to a target, used by
// one exchange at a time and read and written only by that exchange's
// goroutine: no background reader, no handoff between goroutines.
type upstreamConn struct {
	nc        net.Conn
	rd        *bufio.Reader
	wr        *bufio.Writer
	idleSince time.Time
	reused    bool // served an exchange before: it may have been closed while idle

	// For open, made once per connection so a check allocates nothing.
	raw   syscall.RawConn // nil for TLS
	peek  func(fd uintptr) bool
	alive bool
	b     [1]byte
}

func (uc *upstreamConn) close() { _ = uc.nc.Close() }

// open reports whether the upstream has not closed (or written to) the
// idle connection, with one non-blocking peek at the socket. Every request
// pays for it (one syscall): bytes the upstream wrote after its last
// response ended (a body on a HEAD response, bytes past its
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
	_, _, err := syscall.Recvfrom(int(fd), uc.b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
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
// replayed only takes a connection used within freshFor.
func (up *upstreamPool) get(ctx context.Context, replayable bool, now time.Time) (*upstreamConn, error) {
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
		if uc.open() {
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
	uc := &upstreamConn{nc: nc, rd: bufio.NewReaderSize(nc, 8<<10), wr: bufio.NewWriterSize(nc, 8<<10)}
	if sc, ok := nc.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			uc.raw, uc.peek = raw, uc.peekSocket
		}
	}
	return uc, nil
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
