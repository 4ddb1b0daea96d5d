package proxy

import (
	"errors"
	"sync/atomic"
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
// short exchanges never start a watcher. Each Serve's sweeper looks for
// such exchanges twice per watchAfter, so arming costs an exchange two
// atomic stores rather than a timer.
const watchAfter = 500 * time.Millisecond

const (
	watchOff     int32 = iota
	watchArmed         // the request was sent; the sweeper may start a watcher
	watchRunning       // watchClient runs
)

// clientWatch is a clientConn's watcher state.
type clientWatch struct {
	able  bool          // the connection can be watched: not TLS
	state atomic.Int32  // watchOff, watchArmed or watchRunning
	since atomic.Int64  // the exchange's start, unix nanoseconds
	done  chan struct{} // watchClient's end, one token per run
}

// initWatch prepares the watcher. TLS connections are not watched: a
// closing TLS client sends an alert record first, which a peek cannot tell
// from data.
func (cc *clientConn) initWatch() {
	if _, ok := cc.raw.(syscall.Conn); !ok || cc.s.tls != nil {
		return
	}
	cc.watch.able = true
	cc.watch.done = make(chan struct{}, 1)
}

// arm lets the sweeper watch the client of the exchange on uc, started at
// start, once the request has been sent: from then on the data path does
// not read the client's socket.
func (cc *clientConn) arm(uc *upstreamConn, start time.Time) {
	if !cc.watch.able {
		return
	}
	cc.upstream.Store(uc)
	cc.watch.since.Store(start.UnixNano())
	cc.watch.state.Store(watchArmed)
}

// disarm stops any watcher and waits for it, so uc can be reused safely.
func (cc *clientConn) disarm() {
	if !cc.watch.able || cc.watch.state.Load() == watchOff {
		return
	}
	if !cc.watch.state.CompareAndSwap(watchArmed, watchOff) {
		// A watcher runs: wake it from waiting for the socket, and wait.
		_ = cc.raw.SetReadDeadline(time.Unix(1, 0))
		<-cc.watch.done
		cc.setReadDeadline(time.Time{}) // raw is nc: watched connections are not TLS
		cc.watch.state.Store(watchOff)
	}
	cc.upstream.Store(nil)
}

// sweep starts a watcher for every exchange armed for longer than
// watchAfter, until the server shuts down.
func (s *server) sweep() {
	tick := time.NewTicker(watchAfter / 2)
	defer tick.Stop()
	for range tick.C {
		if s.closing.Load() {
			return
		}
		cutoff := time.Now().Add(-watchAfter).UnixNano()
		s.mu.Lock()
		for cc := range s.conns {
			w := &cc.watch
			if w.state.Load() == watchArmed && w.since.Load() < cutoff && w.state.CompareAndSwap(watchArmed, watchRunning) {
				go cc.watchClient()
			}
		}
		s.mu.Unlock()
	}
}

// watchClient runs in its own goroutine until the client's socket is
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
		n, err := peekFD(fd, &b)
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
