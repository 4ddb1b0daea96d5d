package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"time"
)

// clientConn is one client connection on the HTTP/1.1 data path. One
// goroutine reads a request head, writes it to a pooled upstream
// connection, and streams the response back, all without handing the
// exchange to other goroutines; the read and write buffers are flushed
// only when there is nothing more to read, so a small exchange costs one
// read and one write on each side.
type clientConn struct {
	s        *server
	nc       net.Conn // nil once net/http owns the connection
	raw      net.Conn // as accepted, for Shutdown to close from outside
	rd       *bufio.Reader
	wr       *bufio.Writer
	proto    string // X-Forwarded-Proto
	clientIP string
	state    atomic.Int32

	req      request
	resp     response
	consumed bool      // the request head was discarded from rd
	deadline time.Time // the read deadline set on nc
	// ended is when the last exchange ended, for the idle deadline: the
	// clock is read once per request stage, not again for bookkeeping.
	ended    time.Time
	watch    clientWatch
	src      clientReader                 // rd's source
	reply    reply                        // the response flushIdle deferred
	upstream atomic.Pointer[upstreamConn] // the exchange's, for the watcher to close
	gone     atomic.Bool                  // the watcher saw the client leave
	id       []byte                       // the exchange's request id
	idBuf    [64]byte
}

const (
	connActive int32 = iota
	connIdle
)

// serve runs requests until the client leaves, an error ends the
// connection, the server shuts down, or a request goes to net/http.
func (cc *clientConn) serve() {
	defer cc.s.release(cc)
	defer cc.recoverPanic()
	for {
		if cc.rd.Buffered() == 0 {
			// Moving the deadline is a timer update; doing it only once a
			// quarter of the idle timeout has passed saves one per request.
			now := cc.ended
			if now.IsZero() {
				now = time.Now()
			}
			if cc.deadline.Sub(now) < cc.s.idleTimeout*3/4 {
				cc.setReadDeadline(now.Add(cc.s.idleTimeout))
			}
			if err := cc.flushIdle(); err != nil {
				return
			}
		}
		if cc.reply.out == nil {
			// Otherwise the read that sends the response marks it idle.
			cc.state.Store(connIdle)
			if cc.s.closing.Load() {
				return
			}
		}
		if _, err := cc.rd.Peek(1); err != nil {
			return
		}
		cc.state.Store(connActive)
		if !headBuffered(cc.rd) {
			cc.setReadDeadline(time.Now().Add(cc.s.headerTimeout))
		}
		if err := readRequestHead(cc.rd, &cc.req); err != nil {
			var bad badRequest
			switch {
			case errors.As(err, &bad):
				cc.id = nil
				cc.writeError(http.StatusBadRequest, "bad request: "+string(bad), false, true)
			case errors.Is(err, errFallback), errors.Is(err, errHeadTooLarge):
				cc.handoff()
			}
			return
		}
		route := cc.s.p.router.lookupBytes(cc.req.host)
		if route == nil || cc.s.opt.Metrics != nil && isMetricsRequest(cc.req.target, cc.req.host) {
			// Unrouted hosts are rare (404s, the proxy's own /metrics):
			// net/http serves them, so there is one place for each.
			cc.handoff()
			return
		}
		if cc.req.length > 0 || cc.req.chunked {
			cc.setReadDeadline(time.Time{}) // uploads may take their time
		}
		if !cc.exchange(route) {
			return
		}
	}
}

// readRequestHead parses the next request head in rd into req, leaving it
// unread. It returns nil for a request the data path serves, errFallback
// or errHeadTooLarge for one it leaves to net/http, a badRequest for one
// to refuse, or the error reading it.
//
// An HTTP/1.0 request with a Transfer-Encoding is refused even when the
// data path would leave it to net/http unparsed (bare-LF line ends, a
// head larger than its buffer, which is then read whole into
// req.spilled): net/http would read its body as empty and the chunks as
// the next request (see errHTTP10Chunked).
func readRequestHead(rd *bufio.Reader, req *request) error {
	head, err := peekHead(rd)
	if err == nil {
		err = req.parse(head)
	} else {
		*req = request{headers: req.headers[:0], conn: req.conn[:0]}
	}
	if errors.Is(err, errHeadTooLarge) && maybeHTTP10(rd) {
		// The header may lie past the buffer: read the whole head, which
		// net/http then gets first (see handoff).
		spilled, err := readSpill(rd)
		if err != nil {
			return err
		}
		req.spilled = spilled
		if http10Chunked(spilled) {
			return errHTTP10Chunked
		}
		return errHeadTooLarge
	}
	if errors.Is(err, errFallback) || errors.Is(err, errHeadTooLarge) {
		if buf, _ := rd.Peek(rd.Buffered()); http10Chunked(buf) {
			return errHTTP10Chunked
		}
	}
	return err
}

// recoverPanic ends a connection whose goroutine panicked, as net/http
// does for a handler: a bug met by one request must not take down the
// proxy and every other connection with it. The exchange's upstream
// connection is closed; its target's in-flight count is not given back.
func (cc *clientConn) recoverPanic() {
	v := recover()
	if v == nil {
		return
	}
	if uc := cc.upstream.Load(); uc != nil {
		uc.close()
	}
	stack := debug.Stack()
	defer func() { _ = recover() }() // the logger itself may be what panicked
	cc.s.p.log.Error("proxy connection panicked; closing it", "panic", fmt.Sprint(v), "client", cc.clientIP, "stack", string(stack))
}

// maxSpill bounds a request head read into the heap by readSpill: net/http's
// own limit (http.DefaultMaxHeaderBytes and its 4 KiB of slack), past which
// it answers 431 to what it is given.
const maxSpill = http.DefaultMaxHeaderBytes + 4096

// maybeHTTP10 reports whether the head filling rd's buffer is, or may be
// (its request line does not fit either), an HTTP/1.0 request.
func maybeHTTP10(rd *bufio.Reader) bool {
	buf, _ := rd.Peek(rd.Buffered())
	i := bytes.IndexByte(buf, '\n')
	return i < 0 || bytes.HasSuffix(bytes.TrimSuffix(buf[:i], []byte("\r")), []byte(" HTTP/1.0"))
}

// readSpill reads a request head larger than rd's buffer into the heap,
// through its blank line (CRLF or bare LF, as net/http reads it) or
// maxSpill bytes.
func readSpill(rd *bufio.Reader) ([]byte, error) {
	var head []byte
	lineStart := 0
	for len(head) < maxSpill {
		chunk, err := rd.ReadSlice('\n')
		head = append(head, chunk...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read request head: %w", err)
		}
		if line := head[lineStart:]; len(line) <= 2 && (len(line) == 1 || line[0] == '\r') && lineStart > 0 {
			break
		}
		lineStart = len(head)
	}
	return head, nil
}

// setReadDeadline sets the client connection's read deadline and
// remembers it.
func (cc *clientConn) setReadDeadline(t time.Time) {
	cc.deadline = t
	_ = cc.nc.SetReadDeadline(t)
}

// headBuffered reports whether a whole head is already in rd's buffer, so
// parsing it cannot block.
func headBuffered(rd *bufio.Reader) bool {
	buf, _ := rd.Peek(rd.Buffered())
	return bytes.Contains(buf, crlfcrlf)
}

// exchange proxies the parsed request to route and records it. It reports
// whether the connection can carry another request.
func (cc *clientConn) exchange(route *Route) bool {
	req := &cc.req
	start := time.Now()
	cc.consumed = false
	cc.gone.Store(false)
	if req.id != nil {
		cc.id = append(cc.idBuf[:0], req.id...)
	} else {
		cc.id = appendRequestID(cc.idBuf[:0])
	}
	snap := route.snap.Load()
	g, t := snap.pick()
	if g == nil {
		return cc.writeError(http.StatusServiceUnavailable, "no release deployed for "+route.service, false, false)
	}
	g.rel.metrics.inFlight.Inc()

	var f forwarded
	status := 0
	for attempt := 0; ; attempt++ {
		if t == nil {
			status = http.StatusServiceUnavailable
			f.keep = cc.writeError(status, "no healthy instance of "+route.service+" ("+g.rel.name+")", true, false)
			f.complete = true
			break
		}
		f = cc.forward(t, start)
		cc.disarm() // forward disarms on every path; this keeps it so
		failed := t
		t = nil
		failed.release()
		status = f.status
		if f.err == nil || f.status != 0 {
			break
		}
		if f.clientErr {
			status = statusClientClosed // the client left; nobody to answer
			break
		}
		if f.dial && failed.transition(StateHealthy, StateUnhealthy) {
			cc.s.p.log.Warn("target unhealthy: dial failed", "target", failed.String(), "service", route.service, "release", g.rel.name, "err", f.err)
		}
		// A timeout after the request was sent is never retried: the
		// target may be acting on it, and a second wait doubles the hang.
		timeout := !f.dial && isTimeout(f.err)
		if attempt == 0 && !timeout && idempotent(string(req.method)) && (!req.hasBody() || f.dial) {
			if ng, nt := snap.retry(g, failed); nt != nil {
				cc.s.p.log.Debug("retrying on another target", "from", failed.String(), "to", nt.String(), "err", f.err)
				if ng != g {
					g.rel.metrics.inFlight.Dec()
					ng.rel.metrics.inFlight.Inc()
					g = ng
				}
				t = nt
				continue
			}
		}
		status = http.StatusBadGateway
		msg := ""
		if timeout {
			status, msg = http.StatusGatewayTimeout, cc.s.p.timeoutText(failed)
		} else {
			if isTimeout(f.err) {
				status = http.StatusGatewayTimeout
			}
			msg = http.StatusText(status) + ": " + failed.String() + ": " + errText(f.err)
		}
		f.keep = cc.writeError(status, msg, false, false)
		f.complete = true
		break
	}
	now := f.ended
	if now.IsZero() {
		now = time.Now()
	}
	cc.ended = now
	d := now.Sub(start)
	rm := g.rel.metrics
	rm.inFlight.Dec()
	rm.observe(status, d)
	// A response cut short is an error whatever status it began with,
	// unless the client cut it: that says nothing about the release.
	g.rel.ring.add(now, d, status >= 500 || !f.complete && !f.clientErr)
	return f.keep
}

// forwarded is the outcome of sending one request to one target.
type forwarded struct {
	status    int       // status sent to the client; 0 when nothing was sent
	err       error     // why the exchange failed
	dial      bool      // err is a failed dial: nothing reached the target
	bodySent  bool      // some of the request body was read from the client
	clientErr bool      // the client side failed: nobody to answer
	complete  bool      // the whole response was written
	keep      bool      // the client connection can carry another request
	ended     time.Time // when the response was written, if it was
}

func (r *request) hasBody() bool { return r.length > 0 || r.chunked }

// forward sends the request to t and streams the response back. A reused
// connection that fails before any response byte was probably closed by
// the upstream while idle: a replayable request is sent once more on a
// new connection, without blaming the target.
func (cc *clientConn) forward(t *Target, now time.Time) forwarded {
	req := &cc.req
	replayable := !req.hasBody() && idempotent(string(req.method))
	// A head without a body is sent by the first read of the response
	// (sendAndRead), which also checks an idle connection.
	headOnly := !req.hasBody()
	var uc *upstreamConn
	var head []byte
	for try := 0; ; try++ {
		var err error
		if try == 0 {
			uc, err = t.pool.get(context.Background(), replayable, headOnly, now)
		} else {
			uc, err = t.pool.dial(context.Background())
		}
		if err != nil {
			return forwarded{err: err, dial: isDialError(err)}
		}
		cc.writeRequestHead(uc.wr)
		if req.hasBody() {
			cc.discardHead()
			var err error
			if req.chunked {
				err = copyChunked(uc.wr, cc.rd)
			} else {
				err = copyN(uc.wr, cc.rd, req.length)
			}
			if err != nil {
				uc.close()
				var ce *copyError
				if errors.As(err, &ce) && !ce.write {
					return forwarded{err: err, bodySent: true, clientErr: true}
				}
				return forwarded{err: err, bodySent: true}
			}
		}
		retry := uc.reused && replayable && try == 0
		if err := uc.flush(headOnly, uc.reused); err != nil {
			uc.close()
			if retry {
				continue
			}
			return forwarded{err: err, bodySent: req.hasBody()}
		}
		// The deadline bounds the wait for the response head only; relay
		// clears it before the body.
		_ = uc.nc.SetReadDeadline(time.Now().Add(cc.s.p.respTimeout))
		cc.arm(uc, now)
		head, err = peekHead(uc.rd)
		if errors.Is(err, errHeadTooLarge) {
			head, err = readLargeHead(uc.rd)
		} else if err == nil {
			_, _ = uc.rd.Discard(len(head)) // valid until the next read of uc.rd
		}
		if err != nil {
			cc.disarm()
			uc.close()
			if errors.Is(err, errStaleConn) {
				try-- // nothing was sent: the next idle connection, as get does
				continue
			}
			if cc.gone.Load() {
				return forwarded{err: err, bodySent: req.hasBody(), clientErr: true}
			}
			if retry && uc.rd.Buffered() == 0 && !isTimeout(err) {
				continue
			}
			return forwarded{err: err, bodySent: req.hasBody()}
		}
		break
	}
	return cc.relay(t, uc, head)
}

// relay streams the upstream's response, whose head is read, to the client.
func (cc *clientConn) relay(t *Target, uc *upstreamConn, head []byte) forwarded {
	req, resp := &cc.req, &cc.resp
	for {
		if err := resp.parse(head); err != nil {
			cc.disarm()
			uc.close()
			return forwarded{err: err, bodySent: req.hasBody()}
		}
		if resp.status >= 200 {
			_ = uc.nc.SetReadDeadline(time.Time{})
			break
		}
		if resp.status == http.StatusSwitchingProtocols {
			cc.disarm()
			uc.close() // the proxy never asks this connection to upgrade
			return forwarded{err: errors.New("unexpected 101 Switching Protocols"), bodySent: req.hasBody()}
		}
		// Interim responses (103 Early Hints) go to the client at once.
		cc.writeResponseHead(false, false)
		if err := cc.wr.Flush(); err != nil {
			cc.disarm()
			uc.close()
			return forwarded{err: err, clientErr: true, bodySent: req.hasBody()}
		}
		var err error
		head, err = peekHead(uc.rd)
		if errors.Is(err, errHeadTooLarge) {
			head, err = readLargeHead(uc.rd)
		} else if err == nil {
			_, _ = uc.rd.Discard(len(head))
		}
		if err != nil {
			cc.disarm()
			uc.close()
			return forwarded{err: err, bodySent: req.hasBody(), clientErr: cc.gone.Load()}
		}
	}
	cc.discardHead()
	noBody := resp.bodyless(string(req.method) == http.MethodHead)
	untilEOF := !noBody && !resp.chunked && resp.length < 0
	keep := !req.close && !cc.s.closing.Load()
	cc.writeResponseHead(untilEOF, !keep)
	f := forwarded{status: resp.status, bodySent: req.hasBody()}
	var err error
	switch {
	case noBody:
	case resp.chunked:
		err = copyChunked(cc.wr, uc.rd)
	case resp.length >= 0:
		err = copyN(cc.wr, uc.rd, resp.length)
	default:
		err = copyUntilEOF(cc.wr, uc.rd)
		resp.close = true
	}
	cc.disarm()
	if err != nil {
		uc.close()
		var ce *copyError
		f.clientErr = errors.As(err, &ce) && ce.write || cc.gone.Load()
		f.err = err
		return f // the client connection closes: the response is cut short
	}
	if cc.gone.Load() {
		// The watcher saw the client leave as the response ended, and
		// may have closed uc.
		resp.close, keep = true, false
	}
	if !keep {
		// Otherwise serve flushes before reading the next request, unless
		// another request is already waiting: pipelined responses then
		// share a write.
		if err := cc.wr.Flush(); err != nil {
			keep = false
		}
	}
	f.ended = time.Now()
	if resp.close {
		uc.close()
	} else {
		t.pool.put(uc, f.ended)
	}
	f.complete, f.keep = true, keep
	return f
}

// discardHead drops the request head from the read buffer once it can no
// longer be sent again.
func (cc *clientConn) discardHead() {
	if !cc.consumed {
		_, _ = cc.rd.Discard(len(cc.req.head))
		cc.consumed = true
	}
}

// writeRequestHead writes the request as it goes upstream: hop-by-hop and
// client-claimed X-Forwarded-* headers dropped, the proxy's own added.
//
// The framing headers are the proxy's: it sends the body it parsed, so it
// writes the Content-Length or Transfer-Encoding that describes that body,
// whatever the client's Connection header lists (RFC 9112 6, RFC 9110
// 7.6.1: a sender must not list them, and honouring "Connection:
// Content-Length" would forward a body without its length, which the
// target then reads as the next request: request smuggling). Host is never
// dropped either: the target routes by it.
func (cc *clientConn) writeRequestHead(w *bufio.Writer) {
	req := &cc.req
	_, _ = w.Write(req.method)
	_ = w.WriteByte(' ')
	_, _ = w.Write(req.target)
	_, _ = w.WriteString(" HTTP/1.1\r\n")
	for _, h := range req.headers {
		if keepAlways(h.name) {
			if fieldIs(h.name, "host") {
				writeHeader(w, h.name, h.value)
			}
			continue // the framing, written below
		}
		if hopByHop(h.name) && !(req.chunked && fieldIs(h.name, "trailer")) ||
			forwardedHeader(h.name) || len(req.conn) > 0 && listedIn(h.name, req.conn) {
			continue
		}
		writeHeader(w, h.name, h.value)
	}
	_, _ = w.WriteString("X-Forwarded-For: ")
	_, _ = w.WriteString(cc.clientIP)
	_, _ = w.WriteString("\r\nX-Forwarded-Host: ")
	_, _ = w.Write(req.host)
	_, _ = w.WriteString("\r\nX-Forwarded-Proto: ")
	_, _ = w.WriteString(cc.proto)
	_, _ = w.WriteString("\r\n")
	if req.id == nil {
		_, _ = w.WriteString("X-Request-Id: ")
		_, _ = w.Write(cc.id)
		_, _ = w.WriteString("\r\n")
	}
	if req.trailer {
		_, _ = w.WriteString("Te: trailers\r\n")
	}
	switch {
	case req.chunked:
		_, _ = w.WriteString("Transfer-Encoding: chunked\r\n")
	case req.hasLength:
		_, _ = w.WriteString("Content-Length: ")
		writeInt(w, req.length)
		_, _ = w.WriteString("\r\n")
	}
	_, _ = w.WriteString("\r\n")
}

// keepAlways reports the headers a Connection header never removes: the
// framing (Content-Length, Transfer-Encoding), which the proxy writes
// itself from what it parsed, and Host.
func keepAlways(name []byte) bool {
	switch len(name) {
	case 4:
		return fieldIs(name, "host")
	case 14:
		return fieldIs(name, "content-length")
	case 17:
		return fieldIs(name, "transfer-encoding")
	}
	return false
}

// writeResponseHead writes the upstream's response head to the client,
// without its hop-by-hop headers, with the request id and this
// connection's framing.
func (cc *clientConn) writeResponseHead(untilEOF, closing bool) {
	resp, w := &cc.resp, cc.wr
	_, _ = w.WriteString("HTTP/1.1 ")
	writeInt(w, int64(resp.status))
	_ = w.WriteByte(' ')
	if len(resp.reason) > 0 {
		_, _ = w.Write(resp.reason)
	} else {
		_, _ = w.WriteString(http.StatusText(resp.status))
	}
	_, _ = w.WriteString("\r\n")
	for _, h := range resp.headers {
		if fieldIs(h.name, "content-length") ||
			hopByHop(h.name) && !(resp.chunked && fieldIs(h.name, "trailer")) ||
			len(resp.conn) > 0 && listedIn(h.name, resp.conn) {
			continue // the framing is written below, as the proxy sends the body
		}
		writeHeader(w, h.name, h.value)
	}
	// A Content-Length is the one the upstream sent (for HEAD and 304, the
	// length of the body they describe), never one the upstream's
	// Connection header named: dropping it would leave the client reading
	// this body into the next response. 1xx and 204 never carry one (RFC
	// 9110 8.6), so a lenient client cannot read the next response as
	// their body.
	if resp.length >= 0 && !resp.chunked && resp.status >= 200 && resp.status != http.StatusNoContent {
		_, _ = w.WriteString("Content-Length: ")
		writeInt(w, resp.length)
		_, _ = w.WriteString("\r\n")
	}
	if !resp.hasID && resp.status >= 200 {
		_, _ = w.WriteString("X-Request-Id: ")
		_, _ = w.Write(cc.id)
		_, _ = w.WriteString("\r\n")
	}
	noBody := resp.bodyless(string(cc.req.method) == http.MethodHead)
	if !noBody && (resp.chunked || untilEOF) {
		_, _ = w.WriteString("Transfer-Encoding: chunked\r\n")
	}
	if closing && resp.status >= 200 {
		_, _ = w.WriteString("Connection: close\r\n")
	}
	_, _ = w.WriteString("\r\n")
}

// writeInt writes v in decimal. It formats into w's own free space: a
// local array passed to w.Write would escape (Write may hand it to the
// connection) and cost an allocation per response.
func writeInt(w *bufio.Writer, v int64) {
	_, _ = w.Write(strconv.AppendInt(w.AvailableBuffer(), v, 10))
}

func writeHeader(w *bufio.Writer, name, value []byte) {
	_, _ = w.Write(name)
	_, _ = w.WriteString(": ")
	_, _ = w.Write(value)
	_, _ = w.WriteString("\r\n")
}

// writeError answers with the proxy's own plain-text response and reports
// whether the connection can carry another request. A request with a body
// closes the connection: its body may be partly unread, and reading it to
// the end would only serve a client that is refused anyway.
func (cc *clientConn) writeError(code int, msg string, retryAfter, closing bool) bool {
	keep := !closing && !cc.req.close && !cc.req.hasBody() && !cc.s.closing.Load()
	cc.discardHead()
	w := cc.wr
	_, _ = w.WriteString("HTTP/1.1 ")
	_, _ = w.WriteString(strconv.Itoa(code))
	_ = w.WriteByte(' ')
	_, _ = w.WriteString(http.StatusText(code))
	_, _ = w.WriteString("\r\nContent-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\n")
	if cc.id != nil {
		_, _ = w.WriteString("X-Request-Id: ")
		_, _ = w.Write(cc.id)
		_, _ = w.WriteString("\r\n")
	}
	if retryAfter {
		_, _ = w.WriteString("Retry-After: ")
		_, _ = w.WriteString(cc.s.p.retryAfter)
		_, _ = w.WriteString("\r\n")
	}
	if !keep {
		_, _ = w.WriteString("Connection: close\r\n")
	}
	_, _ = w.WriteString("Content-Length: ")
	_, _ = w.WriteString(strconv.Itoa(len(msg) + 1))
	_, _ = w.WriteString("\r\n\r\n")
	_, _ = w.WriteString(msg)
	_ = w.WriteByte('\n')
	if !keep || cc.rd.Buffered() == 0 {
		if err := w.Flush(); err != nil {
			return false
		}
	}
	return keep
}

// handoff passes the connection, with the request still unread, to the
// net/http server, which keeps it from then on.
func (cc *clientConn) handoff() {
	_ = cc.nc.SetReadDeadline(time.Time{})
	if err := cc.wr.Flush(); err != nil { // responses to earlier pipelined requests
		return
	}
	var rd io.Reader = cc.rd
	if cc.req.spilled != nil {
		rd = io.MultiReader(bytes.NewReader(cc.req.spilled), cc.rd)
	}
	hc := &handoffConn{Conn: cc.nc, rd: rd}
	cc.rd = nil // now owned by hc
	if cc.s.handoff.push(hc) {
		cc.nc = nil // now owned by net/http
	}
}

// handoffConn replays what the data path read ahead before reading on.
type handoffConn struct {
	net.Conn
	rd io.Reader
}

func (c *handoffConn) Read(b []byte) (int, error) {
	return c.rd.Read(b) //nolint:wrapcheck // a transparent wrapper
}

// isMetricsRequest is a request for /metrics addressed to the proxy
// itself (a loopback host, any port) rather than to a service.
func isMetricsRequest(target, host []byte) bool {
	if string(target) != "/metrics" {
		return false
	}
	return isLoopbackHost(normalizeHost(string(host)))
}

func isLoopbackHost(h string) bool {
	return h == "127.0.0.1" || h == "localhost" || h == "::1"
}
