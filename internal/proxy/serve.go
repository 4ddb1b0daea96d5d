package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// ServeOptions configure Serve. The zero value serves plain HTTP.
type ServeOptions struct {
	// TLS, when set, serves HTTPS with this configuration (see
	// LoadTLSConfig). Without NextProtos it offers h2 and http/1.1; HTTP/2
	// connections are served by net/http.
	TLS *tls.Config
	// Metrics, when set, answers GET /metrics addressed to the proxy
	// itself (Host localhost, 127.0.0.1 or ::1, any port) instead of
	// routing it, so Prometheus can scrape the proxy's own address.
	Metrics http.Handler
	// ReadHeaderTimeout bounds reading a request head once its first byte
	// arrived; default 10s.
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes a client connection that sent no new request for
	// this long (on the data path, between 3/4 of it and all of it);
	// default 2m.
	IdleTimeout time.Duration
}

// LoadTLSConfig reads a PEM certificate (chain) and private key for
// ServeOptions.TLS.
func LoadTLSConfig(certFile, keyFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("proxy TLS certificate %s and key %s: %w", certFile, keyFile, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// Serve accepts connections on ln and proxies their requests until
// Shutdown, when it returns http.ErrServerClosed, or until ln fails. It
// may be called for several listeners at once (HTTP and HTTPS).
//
// HTTP/1.1 requests to routed hosts take the proxy's own data path: one
// goroutine per client connection parses requests in place and streams
// them over persistent upstream connections. Anything else — HTTP/1.0,
// HTTP/2, Upgrade (WebSocket), Expect: 100-continue, unrouted hosts,
// heads larger than 8 KiB — moves the connection to net/http and
// ServeHTTP, which handles every case the same way, only slower.
func (p *Proxy) Serve(ln net.Listener, opt ServeOptions) error {
	s := p.newServer(ln, opt)
	if !p.track(s) {
		_ = ln.Close()
		return http.ErrServerClosed
	}
	go func() { _ = s.slow.Serve(s.handoff) }()
	go s.sweep()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.closing.Load() {
				return http.ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("proxy listener %s: %w", ln.Addr(), err)
			}
			// Out of file descriptors and the like: back off as net/http
			// does rather than spin or give up.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			p.log.Warn("proxy accept failed; retrying", "addr", ln.Addr().String(), "err", err, "delay", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		cc := s.newConn(nc)
		if cc == nil {
			_ = nc.Close()
			continue
		}
		go s.start(cc)
	}
}

// Shutdown stops every Serve: listeners close at once, idle connections
// close, and in-flight requests finish until ctx ends, when the remaining
// connections are closed and ctx's error returned. Serve calls after
// Shutdown return http.ErrServerClosed.
func (p *Proxy) Shutdown(ctx context.Context) error {
	p.serveMu.Lock()
	p.shutdown = true
	servers := make([]*server, 0, len(p.servers))
	for s := range p.servers {
		servers = append(servers, s)
	}
	p.serveMu.Unlock()
	var errs []error
	for _, s := range servers {
		errs = append(errs, s.shutdown(ctx))
	}
	return errors.Join(errs...)
}

func (p *Proxy) track(s *server) bool {
	p.serveMu.Lock()
	defer p.serveMu.Unlock()
	if p.shutdown {
		return false
	}
	if p.servers == nil {
		p.servers = map[*server]struct{}{}
	}
	p.servers[s] = struct{}{}
	return true
}

// server is one Serve call: its listener, its data-path connections and
// the net/http server that takes the connections the data path hands off.
type server struct {
	p             *Proxy
	ln            net.Listener
	opt           ServeOptions
	tls           *tls.Config
	headerTimeout time.Duration
	idleTimeout   time.Duration
	slow          *http.Server
	handoff       *handoffListener
	closing       atomic.Bool

	mu    sync.Mutex
	conns map[*clientConn]struct{}
	gone  chan struct{} // closed and replaced whenever a connection ends
}

func (p *Proxy) newServer(ln net.Listener, opt ServeOptions) *server {
	if opt.ReadHeaderTimeout <= 0 {
		opt.ReadHeaderTimeout = 10 * time.Second
	}
	if opt.IdleTimeout <= 0 {
		opt.IdleTimeout = 2 * time.Minute
	}
	s := &server{
		p: p, ln: ln, opt: opt,
		headerTimeout: opt.ReadHeaderTimeout,
		idleTimeout:   opt.IdleTimeout,
		handoff:       newHandoffListener(ln.Addr()),
		conns:         map[*clientConn]struct{}{},
		gone:          make(chan struct{}),
	}
	if opt.TLS != nil {
		s.tls = opt.TLS.Clone()
		if len(s.tls.NextProtos) == 0 {
			s.tls.NextProtos = []string{"h2", "http/1.1"}
		}
	}
	s.slow = &http.Server{
		Handler:           http.HandlerFunc(s.serveSlow),
		ReadHeaderTimeout: opt.ReadHeaderTimeout,
		IdleTimeout:       opt.IdleTimeout,
		ErrorLog:          p.errLog,
		// A handed-off TLS connection arrives wrapped (it carries the
		// bytes read ahead), so net/http cannot see its TLS state.
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if hc, ok := c.(*handoffConn); ok {
				if tc, ok := hc.Conn.(*tls.Conn); ok {
					st := tc.ConnectionState()
					return context.WithValue(ctx, tlsStateKey{}, &st)
				}
			}
			return ctx
		},
	}
	return s
}

type tlsStateKey struct{}

// serveSlow is the net/http side: the proxy's own /metrics, then routing.
func (s *server) serveSlow(w http.ResponseWriter, r *http.Request) {
	if r.TLS == nil {
		if st, ok := r.Context().Value(tlsStateKey{}).(*tls.ConnectionState); ok {
			r.TLS = st
		}
	}
	if s.opt.Metrics != nil && r.URL.Path == "/metrics" && isLoopbackHost(normalizeHost(r.Host)) {
		s.opt.Metrics.ServeHTTP(w, r)
		return
	}
	s.p.ServeHTTP(w, r)
}

// newConn registers a connection, or returns nil when shutting down.
func (s *server) newConn(nc net.Conn) *clientConn {
	cc := &clientConn{s: s, nc: nc, raw: nc, proto: "http"}
	if s.tls != nil {
		cc.proto = "https"
	}
	if host, _, err := net.SplitHostPort(nc.RemoteAddr().String()); err == nil {
		cc.clientIP = host
	}
	cc.state.Store(connActive)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return nil
	}
	s.conns[cc] = struct{}{}
	return cc
}

// start runs the TLS handshake, if any, in the connection's own goroutine
// so a slow client never holds up Accept, then serves the connection.
func (s *server) start(cc *clientConn) {
	if s.tls != nil {
		tc := tls.Server(cc.nc, s.tls)
		cc.nc = tc
		_ = tc.SetDeadline(time.Now().Add(s.headerTimeout))
		if err := tc.Handshake(); err != nil {
			answerPlainHTTP(err)
			s.release(cc)
			return
		}
		_ = tc.SetDeadline(time.Time{})
		if tc.ConnectionState().NegotiatedProtocol == "h2" {
			// net/http serves HTTP/2 on an unwrapped *tls.Conn.
			if s.handoff.push(tc) {
				cc.nc = nil
			}
			s.release(cc)
			return
		}
	}
	cc.src = clientReader{cc: cc, src: cc.nc}
	cc.rd = s.p.readers.get(&cc.src)
	cc.wr = s.p.writers.get(clientWriter{cc})
	cc.initWatch()
	cc.initReply()
	cc.serve()
}

// answerPlainHTTP tells a client that spoke plain HTTP to the HTTPS
// listener what went wrong, as net/http does, instead of an empty reply.
// The handshake's deadline still bounds the write.
func answerPlainHTTP(handshakeErr error) {
	var re tls.RecordHeaderError
	if !errors.As(handshakeErr, &re) || re.Conn == nil {
		return
	}
	switch string(re.RecordHeader[:]) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO", "DELET", "PATCH":
		_, _ = io.WriteString(re.Conn, "HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
	}
}

// release forgets a connection that ended or moved to net/http, closing
// it unless net/http owns it now.
func (s *server) release(cc *clientConn) {
	if cc.nc != nil {
		_ = cc.nc.Close()
	}
	if cc.rd != nil {
		s.p.readers.put(cc.rd)
	}
	if cc.wr != nil {
		s.p.writers.put(cc.wr)
	}
	cc.rd, cc.wr = nil, nil
	s.mu.Lock()
	delete(s.conns, cc)
	close(s.gone)
	s.gone = make(chan struct{})
	s.mu.Unlock()
}

func (s *server) shutdown(ctx context.Context) error {
	s.closing.Store(true)
	_ = s.ln.Close()
	slowErr := make(chan error, 1)
	go func() { slowErr <- s.slow.Shutdown(ctx) }() // also closes s.handoff
	var err error
	for {
		s.mu.Lock()
		n := len(s.conns)
		gone := s.gone
		for cc := range s.conns {
			// A connection between requests has nothing to finish; one
			// mid-request closes itself after its response (closing).
			if cc.state.Load() == connIdle {
				_ = cc.raw.Close()
			}
		}
		s.mu.Unlock()
		if n == 0 {
			break
		}
		select {
		case <-gone:
		case <-time.After(50 * time.Millisecond): // re-check idle ones
		case <-ctx.Done():
			s.mu.Lock()
			for cc := range s.conns {
				_ = cc.raw.Close()
			}
			s.mu.Unlock()
			err = fmt.Errorf("proxy shutdown: %w", ctx.Err())
		}
		if err != nil {
			break
		}
	}
	if serr := <-slowErr; serr != nil && err == nil {
		err = fmt.Errorf("proxy shutdown: %w", serr)
	}
	return err
}

// handoffListener feeds connections from the data path to net/http's
// Serve loop.
type handoffListener struct {
	addr   net.Addr
	conns  chan net.Conn
	done   chan struct{}
	closed sync.Once
}

func newHandoffListener(addr net.Addr) *handoffListener {
	return &handoffListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

// push hands nc over; false when the listener is closed (shutting down).
func (l *handoffListener) push(nc net.Conn) bool {
	select {
	case l.conns <- nc:
		return true
	case <-l.done:
		return false
	}
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case nc := <-l.conns:
		return nc, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.closed.Do(func() { close(l.done) })
	return nil
}

func (l *handoffListener) Addr() net.Addr { return l.addr }

// readerPool and writerPool recycle per-connection buffers. The read
// buffer also bounds a request head on the data path.
type readerPool struct{ p sync.Pool }

func (rp *readerPool) get(nc io.Reader) *bufio.Reader {
	if rd, ok := rp.p.Get().(*bufio.Reader); ok {
		rd.Reset(nc)
		return rd
	}
	return bufio.NewReaderSize(nc, 8<<10)
}

func (rp *readerPool) put(rd *bufio.Reader) {
	rd.Reset(nil)
	rp.p.Put(rd)
}

type writerPool struct{ p sync.Pool }

func (wp *writerPool) get(nc io.Writer) *bufio.Writer {
	if wr, ok := wp.p.Get().(*bufio.Writer); ok {
		wr.Reset(nc)
		return wr
	}
	return bufio.NewWriterSize(nc, 8<<10)
}

func (wp *writerPool) put(wr *bufio.Writer) {
	wr.Reset(nil)
	wp.p.Put(wr)
}
