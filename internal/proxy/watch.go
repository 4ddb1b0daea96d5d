package proxy

import (
	"errors"
	"syscall"
	"time"
)

// The data path reads a client connection only between requests, so on its
// own it would notice a client that left only when writing to it: a long
// poll or a quiet event stream would keep its upstream request running.
// While an exchange waits on the upstream for longer than watchAfter, a
// watcher peeks at the client's socket, without consuming anything; when
// the client has closed it, the watcher closes the upstream connection,
// which cancels the request as net/http's context would.

// watchAfter is how long an exchange runs before its client is watched;
// short exchanges never start a watcher.
const watchAfter = 500 * time.Millisecond

// clientWatch is a clientConn's watcher state, touched by the exchange's
// goroutine except where noted.
type clientWatch struct {
	timer *time.Timer   // runs watchClient; nil when the connection cannot be watched (TLS)
	done  chan struct{} // watchClient's end, one token per run
	armed bool
}

// initWatch prepares the watcher. TLS connections are not watched: a
// closing TLS client sends an alert record first, which a peek cannot tell
// from data.
func (cc *clientConn) initWatch() {
	if _, ok := cc.raw.(syscall.Conn); !ok || cc.s.tls != nil {
		return
	}
	cc.watch.done = make(chan struct{}, 1)
	cc.watch.timer = time.AfterFunc(time.Hour, cc.watchClient)
	cc.watch.timer.Stop()
}

// arm starts the countdown for the exchange on uc, once the request has
// been sent: from then on the data path does not read the client's socket.
func (cc *clientConn) arm(uc *upstreamConn) {
	if cc.watch.timer == nil {
		return
	}
	cc.upstream.Store(uc)
	cc.watch.armed = true
	cc.watch.timer.Reset(watchAfter)
}

// disarm stops the watcher and waits for it, so uc can be reused safely.
func (cc *clientConn) disarm() {
	if !cc.watch.armed {
		return
	}
	cc.watch.armed = false
	if !cc.watch.timer.Stop() {
		// It fired: wake it from waiting for the socket, and wait for it.
		_ = cc.raw.SetReadDeadline(time.Unix(1, 0))
		<-cc.watch.done
		cc.setReadDeadline(time.Time{}) // raw is nc: watched connections are not TLS
	}
	cc.upstream.Store(nil)
}

// watchClient runs in the timer's goroutine until the client's socket is
// readable (data, EOF or an error) or disarm wakes it.
func (cc *clientConn) watchClient() {
	defer func() { cc.watch.done <- struct{}{} }()
	sc, ok := cc.raw.(syscall.Conn)
	if !ok {
		return
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return
	}
	gone := false
	var b [1]byte
	err = raw.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EWOULDBLOCK) {
			return false // nothing yet: wait for the socket
		}
		gone = err != nil || n == 0 // EOF or reset; data (pipelining) means alive
		return true
	})
	if err == nil && gone {
		cc.gone.Store(true)
		if uc := cc.upstream.Load(); uc != nil {
			uc.close()
		}
	}
}
