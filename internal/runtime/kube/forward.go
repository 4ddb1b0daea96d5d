package pods

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// forwarder is an instance's stable address: a listener on the loopback
// interface that relays every connection to the pod running now. A pod's
// own address changes with every restart, and a Service's cluster IP is
// programmed by kube-proxy a moment after its endpoints change, a window
// in which a client's connection goes wherever the host routes it; the
// forwarder knows the pod the moment it runs; while there is none it
// accepts connections and closes them at once.
type forwarder struct {
	ln net.Listener

	mu     sync.Mutex
	target string // the pod's ip:port; "" while none runs
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

func newForwarder() (*forwarder, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &forwarder{ln: ln, conns: map[net.Conn]struct{}{}}
	f.wg.Go(f.serve)
	return f, nil
}

func (f *forwarder) addr() string { return f.ln.Addr().String() }

// point sends new connections to target ("" refuses them); the
// connections made to the previous pod stay, so that a pod being stopped
// finishes the requests it has.
func (f *forwarder) point(target string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.target = target
}

// dialTimeout bounds the connection to a pod: on the node it is at once,
// and a pod whose network is gone never answers (the client's request
// should fail fast, for the proxy to try another instance).
const dialTimeout = time.Second

func (f *forwarder) serve() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		f.mu.Lock()
		target := f.target
		f.mu.Unlock()
		if target == "" {
			c.Close()
			continue
		}
		f.wg.Go(func() { f.relay(c, target) })
	}
}

func (f *forwarder) relay(c net.Conn, target string) {
	defer c.Close()
	up, err := net.DialTimeout("tcp", target, dialTimeout)
	if err != nil {
		return
	}
	defer up.Close()
	if !f.track(c, up) {
		return
	}
	defer f.untrack(c, up)
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(up, c)
	go pipe(c, up)
	<-done
	<-done
}

func (f *forwarder) track(cs ...net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.conns == nil {
		return false
	}
	for _, c := range cs {
		f.conns[c] = struct{}{}
	}
	return true
}

func (f *forwarder) untrack(cs ...net.Conn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range cs {
		delete(f.conns, c)
	}
}

// close stops listening and cuts the connections still open (their pod
// is gone), and waits for the relays to end.
func (f *forwarder) close() {
	f.ln.Close()
	f.mu.Lock()
	for c := range f.conns {
		c.Close()
	}
	f.conns = nil
	f.target = ""
	f.mu.Unlock()
	f.wg.Wait()
}
