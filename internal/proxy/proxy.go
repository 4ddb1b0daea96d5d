// Package proxy is Velocity's HTTP reverse proxy: it routes by Host to a
// service's release groups, splits traffic by weight for canaries, keeps
// unhealthy and draining instances out of rotation and retries idempotent
// requests away from dead instances, so deploys cause no failed requests.
//
// Serve is how the proxy is meant to listen (HTTP or HTTPS): HTTP/1.1
// requests take its own data path (serve.go, conn.go) over persistent
// upstream connections (upstream.go), and everything unusual moves to
// net/http and ServeHTTP. ServeHTTP alone is a complete http.Handler too,
// for tests and embedding, with the same routing, retries and metrics.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"weak"

	"github.com/prometheus/client_golang/prometheus"
)

const hdrRequestID = "X-Request-Id"

// Options configure a Proxy. The zero value works.
type Options struct {
	// Registry receives the proxy's metrics; nil keeps them in a private
	// registry.
	Registry *prometheus.Registry
	// Logger receives state changes (targets going unhealthy, retries);
	// nil discards them.
	Logger *slog.Logger
	// DialTimeout bounds connecting to a target; default 2s. Targets are
	// local, so a slow connect means a dead instance, and a short timeout
	// lets the retry reach a live one quickly.
	DialTimeout time.Duration
	// MaxIdleConnsPerHost is the keep-alive pool per target (for Serve's
	// data path and for ServeHTTP each); default 512 so bursts reuse
	// connections instead of exhausting ephemeral ports.
	MaxIdleConnsPerHost int
	// RetryAfter is announced with 503s when no target is healthy; default 1s.
	RetryAfter time.Duration
	// ResponseHeaderTimeout bounds the wait for a target's response head
	// once the request was sent; default 30s, as kamal-proxy's target
	// timeout. A target that accepts and never answers then gets the client
	// a 504 instead of a hang. The request is not retried (the target may
	// be acting on it) and the target stays in rotation: a slow answer is
	// the application's, and a hung instance fails its active health check.
	// It is one value for every service: velocity.yml has no per-service
	// setting. The response body has no idle timeout, since event streams
	// and long polls are quiet for minutes by design; a client that leaves
	// frees the upstream connection.
	ResponseHeaderTimeout time.Duration
	// MetricsRetention is how long the Prometheus series of a release that
	// left its route are kept, so a scrape after a failed canary still sees
	// its errors; default 5m. They are deleted afterwards so cardinality
	// stays bounded.
	MetricsRetention time.Duration
}

// Proxy routes by Host header; serve it with Serve, or use it as an
// http.Handler. Safe for concurrent use.
type Proxy struct {
	router      router
	metrics     *metrics
	log         *slog.Logger
	transport   *http.Transport
	errLog      *log.Logger // ReverseProxy's own complaints, bridged to slog
	retryAfter  string
	buffers     bufferPool
	recorders   sync.Pool
	dialTimeout time.Duration
	maxIdle     int
	respTimeout time.Duration

	// The HTTP/1.1 data path (Serve).
	readers  readerPool
	writers  writerPool
	poolsMu  sync.Mutex
	pools    []weak.Pointer[upstreamPool] // for Close; targets are not closed explicitly
	serveMu  sync.Mutex
	servers  map[*server]struct{}
	shutdown bool
}

// New creates a proxy. It panics if the metrics are already registered in
// opt.Registry, as prometheus.MustRegister does: that is a wiring bug.
func New(opt Options) *Proxy {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.DialTimeout <= 0 {
		opt.DialTimeout = 2 * time.Second
	}
	if opt.MaxIdleConnsPerHost <= 0 {
		opt.MaxIdleConnsPerHost = 512
	}
	if opt.RetryAfter <= 0 {
		opt.RetryAfter = time.Second
	}
	if opt.ResponseHeaderTimeout <= 0 {
		opt.ResponseHeaderTimeout = 30 * time.Second
	}
	if opt.MetricsRetention <= 0 {
		opt.MetricsRetention = 5 * time.Minute
	}
	var reg prometheus.Registerer = opt.Registry
	if opt.Registry == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := newMetrics(reg, opt.MetricsRetention)
	if err != nil {
		panic(err)
	}
	p := &Proxy{
		metrics:     m,
		log:         opt.Logger,
		retryAfter:  strconv.Itoa(int((opt.RetryAfter + time.Second - 1) / time.Second)),
		buffers:     make(bufferPool, 256),
		dialTimeout: opt.DialTimeout,
		maxIdle:     opt.MaxIdleConnsPerHost,
		respTimeout: opt.ResponseHeaderTimeout,
		transport: &http.Transport{
			Proxy: nil, // upstreams are local; never detour through HTTP_PROXY
			DialContext: (&net.Dialer{
				Timeout:   opt.DialTimeout,
				KeepAlive: 30 * time.Second,
			}).DialContext,
			MaxIdleConnsPerHost: opt.MaxIdleConnsPerHost,
			IdleConnTimeout:     90 * time.Second,
			// Pass bodies through as the backend encoded them: decoding
			// would cost CPU and strip the client's own negotiation.
			DisableCompression:    true,
			ExpectContinueTimeout: time.Second,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: opt.ResponseHeaderTimeout,
		},
	}
	p.errLog = slog.NewLogLogger(p.log.Handler(), slog.LevelWarn)
	p.recorders.New = func() any { return new(recorder) }
	return p
}

// SetRoute routes host (port and case ignored) to route, replacing any
// previous route atomically.
func (p *Proxy) SetRoute(host string, route *Route) { p.router.set(host, route) }

// RemoveRoute stops routing host; its requests get 404.
func (p *Proxy) RemoveRoute(host string) { p.router.remove(host) }

// Routes returns every route set, once each however many hosts it has.
func (p *Proxy) Routes() []*Route {
	m := p.router.table.Load()
	if m == nil {
		return nil
	}
	seen := make(map[*Route]bool, len(*m))
	out := make([]*Route, 0, len(*m))
	for _, r := range *m {
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out
}

// Route returns the route for host, or nil.
func (p *Proxy) Route(host string) *Route { return p.router.lookup(host) }

// Close drops idle upstream connections. In-flight requests are not touched.
func (p *Proxy) Close() {
	p.transport.CloseIdleConnections()
	p.poolsMu.Lock()
	pools := slices.Clone(p.pools)
	p.poolsMu.Unlock()
	for _, wp := range pools {
		if up := wp.Value(); up != nil {
			up.closeIdle()
		}
	}
}

// addPool remembers a target's connection pool for Close without keeping
// the target alive: deploys create targets and simply drop them.
func (p *Proxy) addPool(up *upstreamPool) {
	p.poolsMu.Lock()
	defer p.poolsMu.Unlock()
	if len(p.pools) >= 64 && len(p.pools) == cap(p.pools) {
		p.pools = slices.DeleteFunc(p.pools, func(wp weak.Pointer[upstreamPool]) bool { return wp.Value() == nil })
	}
	p.pools = append(p.pools, weak.Make(up))
}

// NewTarget creates a target forwarding to rawURL (scheme and host only)
// through the proxy's shared transport. It starts healthy; a failed dial
// takes it out of rotation until an active health check (or MarkHealthy)
// brings it back.
func (p *Proxy) NewTarget(rawURL string) (*Target, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("target url: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return nil, fmt.Errorf("target url %q: want scheme://host:port only", rawURL)
	}
	u = &url.URL{Scheme: u.Scheme, Host: u.Host}
	t := newTarget(u)
	t.pool = newUpstreamPool(u, p.dialTimeout, p.maxIdle)
	p.addPool(t.pool)
	// One ReverseProxy per target, so Rewrite knows the upstream without a
	// per-request context value; they share the transport and buffers.
	t.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = u.Scheme
			pr.Out.URL.Host = u.Host
			// Keep the client's Host: apps pick virtual hosts and build
			// absolute URLs from it.
			pr.Out.Host = pr.In.Host
			// Rewrite dropped inbound X-Forwarded-*: we are the edge, so
			// clients' claims are not trusted and only ours are sent.
			pr.SetXForwarded()
		},
		Transport: p.transport,
		// ReverseProxy already flushes SSE (text/event-stream) and bodies
		// of unknown length (streams, chunked long polls) after every
		// write. For bodies with a Content-Length, -1 would cost a timer
		// goroutine and a separate write of the headers per response
		// (15-25% of req/s on bench/proxy/run.sh); 100ms still bounds
		// how long a slow download's bytes can sit in the buffer.
		FlushInterval:  flushInterval,
		BufferPool:     p.buffers,
		ErrorLog:       p.errLog,
		ErrorHandler:   recordProxyError,
		ModifyResponse: echoRequestID,
	}
	return t, nil
}

// flushInterval is how long a response with a Content-Length may sit in
// the server's write buffer; see NewTarget.
const flushInterval = 100 * time.Millisecond

// ServeHTTP routes, forwards and records one request.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	route := p.router.lookup(r.Host)
	if route == nil {
		writePlain(w, http.StatusNotFound, "no route for host "+strconv.Quote(normalizeHost(r.Host)))
		return
	}
	id := r.Header.Get(hdrRequestID)
	if id == "" {
		id = newRequestID()
		r.Header[hdrRequestID] = []string{id}
	}
	snap := route.snap.Load()
	g, t := snap.pick()
	if g == nil {
		w.Header()[hdrRequestID] = r.Header[hdrRequestID]
		writePlain(w, http.StatusServiceUnavailable, "no release deployed for "+route.service)
		return
	}

	rec := p.recorders.Get().(*recorder)
	*rec = recorder{ResponseWriter: w}
	st := exchange{start: time.Now(), rec: rec, g: g, t: t}
	g.rel.metrics.inFlight.Inc()
	defer p.finish(&st)

	var body *replayGuard
	if r.Body != nil && r.Body != http.NoBody && idempotent(r.Method) {
		body = &replayGuard{rc: r.Body}
		r.Body = body
	}
	for attempt := 0; ; attempt++ {
		if st.t == nil {
			rec.Header()[hdrRequestID] = r.Header[hdrRequestID]
			rec.Header().Set("Retry-After", p.retryAfter)
			writePlain(rec, http.StatusServiceUnavailable, "no healthy instance of "+route.service+" ("+st.g.rel.name+")")
			break
		}
		st.t.rp.ServeHTTP(rec, r)
		failed := st.t
		st.t = nil
		failed.release()
		err := rec.err
		if err == nil || rec.wrote {
			break
		}
		rec.err = nil
		dial := isDialError(err)
		if dial && failed.transition(StateHealthy, StateUnhealthy) {
			p.log.Warn("target unhealthy: dial failed", "target", failed.String(), "service", route.service, "release", st.g.rel.name, "err", err)
		}
		if r.Context().Err() != nil {
			rec.status = statusClientClosed // the client left; nobody to answer
			break
		}
		// A timeout after the request was sent is never retried: the
		// target may be acting on it, and a second wait doubles the hang.
		timeout := !dial && isTimeout(err)
		if attempt == 0 && !timeout && idempotent(r.Method) && (body == nil || dial && !body.read.Load()) {
			if ng, nt := snap.retry(st.g, failed); nt != nil {
				p.log.Debug("retrying on another target", "from", failed.String(), "to", nt.String(), "err", err)
				if ng != st.g {
					st.g.rel.metrics.inFlight.Dec()
					ng.rel.metrics.inFlight.Inc()
					st.g = ng
				}
				st.t = nt
				continue
			}
		}
		rec.Header()[hdrRequestID] = r.Header[hdrRequestID]
		if timeout {
			writePlain(rec, http.StatusGatewayTimeout, p.timeoutText(failed))
			break
		}
		code := http.StatusBadGateway
		if isTimeout(err) {
			code = http.StatusGatewayTimeout
		}
		writePlain(rec, code, http.StatusText(code)+": "+failed.String()+": "+errText(err))
		break
	}
	st.done = true
}

// statusClientClosed is nginx's code for a client that went away, recorded
// so it is neither a success nor a server error.
const statusClientClosed = 499

// exchange is one request's bookkeeping, finished in a defer so the target
// and gauges are released even when ReverseProxy aborts a response with
// http.ErrAbortHandler (the upstream died mid-body).
type exchange struct {
	start time.Time
	rec   *recorder
	g     *group
	t     *Target // acquired and not yet released
	done  bool
}

func (p *Proxy) finish(st *exchange) {
	if st.t != nil {
		st.t.release()
	}
	status := st.rec.status
	if status == 0 {
		status = http.StatusOK
	}
	now := time.Now()
	d := now.Sub(st.start)
	rm := st.g.rel.metrics
	rm.inFlight.Dec()
	rm.observe(status, d)
	// A response cut short (no done) is an error whatever status it began with.
	st.g.rel.ring.add(now, d, status >= 500 || !st.done)
	if st.done {
		*st.rec = recorder{}
		p.recorders.Put(st.rec)
	}
}

// recorder captures the status and any proxy error for one exchange.
type recorder struct {
	http.ResponseWriter
	status int
	wrote  bool
	err    error
}

func (w *recorder) WriteHeader(code int) {
	// 1xx are interim, except 101 which ends the HTTP exchange.
	if !w.wrote && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	return w.ResponseWriter.Write(b) //nolint:wrapcheck // a transparent wrapper
}

// Flush is implemented directly (not only via Unwrap) because ReverseProxy
// flushes after every write of a streamed response.
func (w *recorder) Flush() {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
		return
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach Hijack for WebSocket upgrades.
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// recordProxyError leaves the answer to ServeHTTP, which may still retry.
func recordProxyError(w http.ResponseWriter, _ *http.Request, err error) {
	if rec, ok := w.(*recorder); ok {
		rec.err = err
		return
	}
	writePlain(w, http.StatusBadGateway, "bad gateway")
}

// echoRequestID returns the request id to the client unless the backend
// set its own.
func echoRequestID(resp *http.Response) error {
	if _, ok := resp.Header[hdrRequestID]; !ok {
		resp.Header[hdrRequestID] = resp.Request.Header[hdrRequestID]
	}
	return nil
}

// replayGuard remembers whether the transport read the request body, since
// only an unread body can be sent again. Close is a no-op: the server closes
// the real body, and a retry needs it open.
type replayGuard struct {
	rc   io.ReadCloser
	read atomic.Bool // the transport reads from its own goroutine
}

func (b *replayGuard) Read(p []byte) (int, error) {
	b.read.Store(true)
	return b.rc.Read(p) //nolint:wrapcheck // io.EOF must pass through unwrapped
}

func (b *replayGuard) Close() error { return nil }

func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete, http.MethodTrace:
		return true
	}
	return false
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// timeoutText is the 504 answer when t took the request and sent no
// response head within the timeout.
func (p *Proxy) timeoutText(t *Target) string {
	return "Gateway Timeout: " + t.String() + " sent no response within " + p.respTimeout.String()
}

func errText(err error) string {
	var op *net.OpError
	if errors.As(err, &op) {
		return op.Error()
	}
	return err.Error()
}

func writePlain(w http.ResponseWriter, code int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, msg+"\n")
}

const hexDigits = "0123456789abcdef"

// newRequestID is 128 random bits in hex; math/rand/v2 is seeded from the
// runtime's CSPRNG and needs no lock.
func newRequestID() string {
	var b [32]byte
	return string(appendRequestID(b[:0]))
}

func appendRequestID(dst []byte) []byte {
	for range 2 {
		v := rand.Uint64()
		for i := range 16 {
			dst = append(dst, hexDigits[v>>(60-4*i)&0xf])
		}
	}
	return dst
}

// bufferPool recycles ReverseProxy's 32 KiB copy buffers. A buffered
// channel rather than sync.Pool, because storing a slice in sync.Pool
// allocates its header on every Put.
type bufferPool chan []byte

func (bp bufferPool) Get() []byte {
	select {
	case b := <-bp:
		return b
	default:
		return make([]byte, 32<<10)
	}
}

func (bp bufferPool) Put(b []byte) {
	select {
	case bp <- b:
	default:
	}
}
