package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// rawConn is a client connection speaking HTTP/1.1 by hand, for what
// net/http's client will not send (pipelining, malformed requests).
type rawConn struct {
	net.Conn
	rd *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawConn{Conn: c, rd: bufio.NewReader(c)}
}

func (c *rawConn) send(t *testing.T, raw string) {
	t.Helper()
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
}

// read reads one response to a request with method and its whole body.
func (c *rawConn) read(t *testing.T, method string) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(c.rd, &http.Request{Method: method})
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// closed reports whether the server closed the connection.
func (c *rawConn) closed() bool {
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.rd.ReadByte()
	return errors.Is(err, io.EOF)
}

// rawBackend is an upstream that answers by hand, for responses net/http's
// server will not produce (closing a keep-alive connection unannounced, a
// body delimited by closing).
type rawBackend struct {
	ln     net.Listener
	conns  atomic.Int64
	closed atomic.Int64
	hits   atomic.Int64
}

// newRawBackend serves each connection with answer, which writes one
// response and reports whether to keep the connection open.
func newRawBackend(t *testing.T, answer func(w *bufio.Writer, req *http.Request) bool) *rawBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &rawBackend{ln: ln}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range open {
			_ = c.Close() // the proxy keeps idle connections open
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.conns.Add(1)
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { _ = c.Close(); b.closed.Add(1) }()
				rd, w := bufio.NewReader(c), bufio.NewWriter(c)
				for {
					req, err := http.ReadRequest(rd)
					if err != nil {
						return
					}
					_, _ = io.Copy(io.Discard, req.Body)
					b.hits.Add(1)
					keep := answer(w, req)
					if w.Flush() != nil || !keep {
						return
					}
				}
			}()
		}
	}()
	return b
}

func (b *rawBackend) url() string { return "http://" + b.ln.Addr().String() }

// rawRoute serves host with one release over raw backends.
func (f *fixture) rawRoute(t *testing.T, host string, bs ...*rawBackend) []*Target {
	t.Helper()
	var ts []*Target
	for _, b := range bs {
		ts = append(ts, f.target(t, b.url()))
	}
	r := f.p.NewRoute("prod", "web")
	if err := r.SetGroups([]Group{{Release: "r1", Weight: 100, Targets: ts}}); err != nil {
		t.Fatal(err)
	}
	f.p.SetRoute(host, r)
	return ts
}

func TestServeChunkedResponseWithTrailers(t *testing.T) {
	f := newFixture(t)
	b := newBackend(t, "chunks", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Trailer", "X-Checksum")
		for i := range 3 {
			_, _ = fmt.Fprintf(w, "part %d;", i)
			w.(http.Flusher).Flush()
		}
		w.Header().Set("X-Checksum", "abc")
	})
	f.route(t, "app.test", b)

	c := dialRaw(t, f.addr)
	for range 2 { // the second proves the chunked framing ended where it should
		c.send(t, "GET / HTTP/1.1\r\nHost: app.test\r\nTE: trailers\r\n\r\n")
		resp, body := c.read(t, "GET")
		if body != "part 0;part 1;part 2;" {
			t.Fatalf("body %q", body)
		}
		if len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" {
			t.Fatalf("transfer encoding %v", resp.TransferEncoding)
		}
		if got := resp.Trailer.Get("X-Checksum"); got != "abc" {
			t.Fatalf("trailer %q (%v)", got, resp.Trailer)
		}
	}
}

func TestServeLargeBodies(t *testing.T) {
	f := newFixture(t)
	const size = 8 << 20
	payload := make([]byte, size)
	_, _ = rand.Read(payload)
	sum := sha256.Sum256(payload)
	b := newBackend(t, "big", func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet:
			w.Header().Set("Content-Length", strconv.Itoa(size))
			_, _ = w.Write(payload)
		default:
			h := sha256.New()
			n, _ := io.Copy(h, r.Body)
			_, _ = fmt.Fprintf(w, "%d %x %v", n, h.Sum(nil), r.TransferEncoding)
		}
	})
	f.route(t, "app.test", b)

	resp, body := f.do(t, "GET", "app.test", "/", nil)
	if resp.StatusCode != 200 || len(body) != size || sha256.Sum256([]byte(body)) != sum {
		t.Fatalf("download: %d, %d bytes", resp.StatusCode, len(body))
	}
	// With a Content-Length, and chunked (the client cannot know the length).
	want := fmt.Sprintf("%d %s", size, hex.EncodeToString(sum[:]))
	for _, tc := range []struct {
		name string
		body io.Reader
		te   string
	}{
		{"content-length", bytes.NewReader(payload), "[]"},
		{"chunked", io.MultiReader(bytes.NewReader(payload[:size/2]), bytes.NewReader(payload[size/2:])), "[chunked]"},
	} {
		resp, body := f.do(t, "PUT", "app.test", "/", tc.body)
		if resp.StatusCode != 200 || body != want+" "+tc.te {
			t.Errorf("%s upload: %d %q, want %q", tc.name, resp.StatusCode, body, want+" "+tc.te)
		}
	}
}

// The end of a response is written as the connection starts waiting for
// the next request; a client slow to read leaves the socket no room for
// it, and the rest must still follow, with the connection kept alive.
func TestServeResponseToSlowReaderKeepsConnection(t *testing.T) {
	f := newFixture(t)
	const size = 8<<20 + 100 // more than the sockets buffer; a tail short of the write buffer
	payload := bytes.Repeat([]byte("0123456789abcdef"), size/16+1)[:size]
	b := newBackend(t, "big", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/small" {
			_, _ = io.WriteString(w, "small")
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(size))
		_, _ = w.Write(payload)
	})
	f.route(t, "app.test", b)

	c := dialRaw(t, f.addr)
	for range 3 {
		c.send(t, "GET /big HTTP/1.1\r\nHost: app.test\r\n\r\n")
		time.Sleep(200 * time.Millisecond) // the proxy fills the socket meanwhile
		resp, body := c.read(t, "GET")
		if resp.StatusCode != 200 || body != string(payload) {
			t.Fatalf("slow download: %d, %d bytes, want %d", resp.StatusCode, len(body), size)
		}
		c.send(t, "GET /small HTTP/1.1\r\nHost: app.test\r\n\r\n")
		if resp, body := c.read(t, "GET"); resp.StatusCode != 200 || body != "small" {
			t.Fatalf("next request on the connection: %d %q", resp.StatusCode, body)
		}
	}
}

func TestServeKeepAliveAndPipelining(t *testing.T) {
	f := newFixture(t)
	b := newRawBackend(t, func(w *bufio.Writer, r *http.Request) bool {
		_, _ = fmt.Fprintf(w, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(r.URL.Path), r.URL.Path)
		return true
	})
	f.rawRoute(t, "app.test", b)

	c := dialRaw(t, f.addr)
	// Three requests in one write: answered in order on the same connection.
	c.send(t, "GET /one HTTP/1.1\r\nHost: app.test\r\n\r\n"+
		"GET /two HTTP/1.1\r\nHost: app.test\r\n\r\n"+
		"GET /three HTTP/1.1\r\nHost: app.test\r\n\r\n")
	for _, want := range []string{"/one", "/two", "/three"} {
		if resp, body := c.read(t, "GET"); resp.StatusCode != 200 || body != want {
			t.Fatalf("got %d %q, want %q", resp.StatusCode, body, want)
		}
	}
	for i := range 20 {
		c.send(t, fmt.Sprintf("GET /%d HTTP/1.1\r\nHost: app.test\r\n\r\n", i))
		if _, body := c.read(t, "GET"); body != fmt.Sprintf("/%d", i) {
			t.Fatalf("request %d got %q", i, body)
		}
	}
	if n := b.conns.Load(); n != 1 {
		t.Fatalf("%d upstream connections for 23 sequential requests, want 1 kept alive", n)
	}
	c.send(t, "GET /last HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n")
	if resp, _ := c.read(t, "GET"); !resp.Close {
		t.Fatal("no Connection: close in the answer to Connection: close")
	}
	if !c.closed() {
		t.Fatal("connection left open after Connection: close")
	}
}

// An upstream may close a keep-alive connection at any moment between
// requests (its idle timeout); requests must not fail because of it.
func TestServeUpstreamClosingKeepAliveIsRetried(t *testing.T) {
	f := newFixture(t)
	b := newRawBackend(t, func(w *bufio.Writer, r *http.Request) bool {
		_, _ = io.WriteString(w, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		return false // close, without saying so, after every response
	})
	ts := f.rawRoute(t, "app.test", b)
	for i := range 10 {
		if resp, body := f.do(t, "GET", "app.test", "/", nil); resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("GET %d: %d %q", i, resp.StatusCode, body)
		}
	}
	for i := range 5 {
		// The upstream closed the connection while it sat idle in the pool.
		waitFor(t, func() bool { return b.closed.Load() == b.conns.Load() })
		if resp, body := f.do(t, "POST", "app.test", "/", strings.NewReader("x")); resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("POST %d: %d %q", i, resp.StatusCode, body)
		}
	}
	if ts[0].State() != StateHealthy {
		t.Fatalf("target is %s after closed keep-alive connections", ts[0].State())
	}
	if n := b.conns.Load(); n < 15 {
		t.Fatalf("%d upstream connections for 15 requests on close-after-response", n)
	}
}

// A request without a body finds the pooled connection closed, or holding
// bytes nobody asked for, before it is sent: it goes, once, on another
// connection, whatever its method, and the target stays in rotation.
func TestServeStaleIdleConnectionIsNeverUsed(t *testing.T) {
	for _, stray := range []bool{false, true} {
		t.Run(fmt.Sprintf("stray=%v", stray), func(t *testing.T) {
			f := newFixture(t)
			var hits atomic.Int64
			b := newRawBackend(t, func(w *bufio.Writer, r *http.Request) bool {
				hits.Add(1)
				_, _ = io.WriteString(w, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				if stray {
					_ = w.Flush()
					time.Sleep(20 * time.Millisecond) // after the proxy read the response
					_, _ = io.WriteString(w, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstray")
					return true
				}
				return false // close, without saying so
			})
			ts := f.rawRoute(t, "app.test", b)
			for i, method := range []string{"GET", "POST", "DELETE", "POST", "GET", "PATCH"} {
				if i > 0 {
					// The previous connection is idle in the pool and closed
					// or holding the stray response.
					time.Sleep(60 * time.Millisecond)
				}
				before := hits.Load()
				resp, body := f.do(t, method, "app.test", "/", nil)
				if resp.StatusCode != 200 || body != "ok" {
					t.Fatalf("%s %d: %d %q", method, i, resp.StatusCode, body)
				}
				if n := hits.Load() - before; n != 1 {
					t.Fatalf("%s %d reached the upstream %d times", method, i, n)
				}
			}
			if ts[0].State() != StateHealthy {
				t.Fatalf("target is %s after stale idle connections", ts[0].State())
			}
		})
	}
}

// An upstream that dies after answering some requests on a connection
// fails the GET in flight over to another instance.
func TestServeUpstreamDyingMidConnectionRetriesGET(t *testing.T) {
	f := newFixture(t)
	var served atomic.Int64
	flaky := newRawBackend(t, func(w *bufio.Writer, r *http.Request) bool {
		if served.Add(1) > 2 {
			return false // dies before answering: no response at all
		}
		_, _ = io.WriteString(w, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nflaky")
		return true
	})
	steady := newRawBackend(t, func(w *bufio.Writer, r *http.Request) bool {
		_, _ = io.WriteString(w, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsteady")
		return true
	})
	f.rawRoute(t, "app.test", flaky, steady)
	for i := range 12 {
		if resp, body := f.do(t, "GET", "app.test", "/", nil); resp.StatusCode != 200 {
			t.Fatalf("GET %d: %d %q", i, resp.StatusCode, body)
		}
	}
	// A POST is not repeated: the dead instance may have acted on it.
	var posts []int
	for range 4 {
		resp, _ := f.do(t, "POST", "app.test", "/", strings.NewReader("x"))
		posts = append(posts, resp.StatusCode)
	}
	if !slices.Contains(posts, http.StatusBadGateway) {
		t.Fatalf("POST statuses %v: a POST the flaky instance dropped was retried", posts)
	}
}

func TestServeBodyDelimitedByClose(t *testing.T) {
	f := newFixture(t)
	b := newRawBackend(t, func(w *bufio.Writer, r *http.Request) bool {
		_, _ = io.WriteString(w, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end")
		return false
	})
	f.rawRoute(t, "app.test", b)
	c := dialRaw(t, f.addr)
	for range 2 { // re-framed as chunks, so the client connection stays usable
		c.send(t, "GET / HTTP/1.1\r\nHost: app.test\r\n\r\n")
		if resp, body := c.read(t, "GET"); resp.StatusCode != 200 || body != "until the end" || resp.Close {
			t.Fatalf("got %d %q close=%v", resp.StatusCode, body, resp.Close)
		}
	}
}

func TestServeResponsesWithoutBody(t *testing.T) {
	f := newFixture(t)
	b := newBackend(t, "nobody", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/204":
			w.WriteHeader(http.StatusNoContent)
		case "/304":
			w.Header().Set("Etag", `"v1"`)
			w.WriteHeader(http.StatusNotModified)
		default:
			w.Header().Set("Content-Length", "1000")
			if r.Method != http.MethodHead {
				_, _ = w.Write(make([]byte, 1000))
			}
		}
	})
	f.route(t, "app.test", b)
	c := dialRaw(t, f.addr)
	for _, tc := range []struct {
		method, path string
		status       int
		length       int64
	}{
		{"HEAD", "/", 200, 1000},
		{"GET", "/204", 204, -1},
		{"GET", "/304", 304, -1},
		{"GET", "/", 200, 1000}, // framing is still in step after the bodiless ones
	} {
		c.send(t, tc.method+" "+tc.path+" HTTP/1.1\r\nHost: app.test\r\n\r\n")
		resp, body := c.read(t, tc.method)
		wantBody := 0
		if tc.method == "GET" && tc.status == 200 {
			wantBody = 1000
		}
		if resp.StatusCode != tc.status || len(body) != wantBody || tc.length >= 0 && resp.ContentLength != tc.length {
			t.Fatalf("%s %s: %d, %d body bytes, length %d", tc.method, tc.path, resp.StatusCode, len(body), resp.ContentLength)
		}
		if len(resp.TransferEncoding) != 0 {
			t.Fatalf("%s %s: transfer encoding %v on a response without body", tc.method, tc.path, resp.TransferEncoding)
		}
	}
}

func TestServeRejectsMalformedRequests(t *testing.T) {
	f := newFixture(t)
	b := newBackend(t, "app", nil)
	f.route(t, "app.test", b)
	for _, tc := range []struct{ name, raw, reason string }{
		{"folded header", "GET / HTTP/1.1\r\nHost: app.test\r\nX-Long: one\r\n two\r\n\r\n", "line folding"},
		{"space before colon", "GET / HTTP/1.1\r\nHost: app.test\r\nX-Bad : v\r\n\r\n", "malformed header"},
		{"no colon", "GET / HTTP/1.1\r\nHost: app.test\r\nnonsense\r\n\r\n", "malformed header"},
		{"control character", "GET / HTTP/1.1\r\nHost: app.test\r\nX-Bad: a\x01b\r\n\r\n", "invalid character"},
		{"missing host", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", "missing Host"},
		{"two hosts", "GET / HTTP/1.1\r\nHost: app.test\r\nHost: other.test\r\n\r\n", "more than one Host"},
		{"length and chunked", "POST / HTTP/1.1\r\nHost: app.test\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "both Content-Length"},
		{"conflicting lengths", "POST / HTTP/1.1\r\nHost: app.test\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", "conflicting"},
		{"bad length", "POST / HTTP/1.1\r\nHost: app.test\r\nContent-Length: -3\r\n\r\n", "invalid Content-Length"},
		{"bad method", "G(T / HTTP/1.1\r\nHost: app.test\r\n\r\n", "method"},
		{"bad version", "GET / HTXP/1.1\r\nHost: app.test\r\n\r\n", "version"},
		{"bad chunk size", "POST / HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, f.addr)
			c.send(t, tc.raw)
			resp, err := http.ReadResponse(c.rd, nil)
			if tc.reason == "" { // found only while streaming the body upstream
				if err == nil && resp.StatusCode < 400 {
					t.Fatalf("status %d", resp.StatusCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 400 || !strings.Contains(string(body), tc.reason) {
				t.Fatalf("got %d %q, want 400 mentioning %q", resp.StatusCode, body, tc.reason)
			}
			if !c.closed() {
				t.Fatal("connection open after a malformed request")
			}
		})
	}
	if n := b.hits.Load(); n != 0 {
		t.Fatalf("backend got %d malformed requests", n)
	}
}

// Requests the data path leaves to net/http still work, on the same
// connection as data-path requests before them.
func TestServeHandsUnusualRequestsToNetHTTP(t *testing.T) {
	f := newFixture(t)
	b := newBackend(t, "echo", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		_, _ = fmt.Fprintf(w, "%s %s %d %s", r.Method, r.Proto, len(r.Header.Get("Cookie")), body)
	})
	f.route(t, "app.test", b)

	c := dialRaw(t, f.addr)
	c.send(t, "GET / HTTP/1.1\r\nHost: app.test\r\n\r\n")
	if _, body := c.read(t, "GET"); body != "GET HTTP/1.1 0 " {
		t.Fatalf("data path: %q", body)
	}
	big := strings.Repeat("c", 12<<10) // head larger than the data path's buffer
	c.send(t, "GET / HTTP/1.1\r\nHost: app.test\r\nCookie: "+big+"\r\n\r\n")
	if resp, body := c.read(t, "GET"); resp.StatusCode != 200 || body != fmt.Sprintf("GET HTTP/1.1 %d ", len(big)) {
		t.Fatalf("large head: %d %q", resp.StatusCode, body)
	}
	c.send(t, "PUT / HTTP/1.1\r\nHost: app.test\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
	if resp, err := http.ReadResponse(c.rd, nil); err != nil || resp.StatusCode != 100 {
		t.Fatalf("expect: %v %v", resp, err)
	}
	c.send(t, "data")
	if _, body := c.read(t, "PUT"); body != "PUT HTTP/1.1 0 data" {
		t.Fatalf("expect: %q", body)
	}

	c10 := dialRaw(t, f.addr)
	c10.send(t, "GET / HTTP/1.0\r\nHost: app.test\r\n\r\n")
	if resp, body := c10.read(t, "GET"); resp.StatusCode != 200 || body != "GET HTTP/1.1 0 " {
		t.Fatalf("HTTP/1.0: %d %q", resp.StatusCode, body)
	}
}

func TestServeUpstreamDyingMidBodyCutsResponse(t *testing.T) {
	f := newFixture(t)
	b := newRawBackend(t, func(w *bufio.Writer, r *http.Request) bool {
		_, _ = io.WriteString(w, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten..")
		return false
	})
	f.rawRoute(t, "app.test", b)
	r := f.p.Route("app.test")
	req, _ := http.NewRequest("GET", f.url+"/", nil)
	req.Host = "app.test"
	resp, err := f.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("reading a cut body: %v", err)
	}
	waitFor(t, func() bool { return r.Stats("r1", time.Hour).Requests == 1 })
	if st := r.Stats("r1", time.Hour); st.Errors != 1 {
		t.Fatalf("stats %+v: a cut response is an error", st)
	}
}

func TestServeMetricsOnProxyAddress(t *testing.T) {
	reg := prometheus.NewRegistry()
	p := New(Options{Registry: reg})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.Serve(ln, ServeOptions{Metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{})}) }()
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	b := newBackend(t, "app", nil)
	tg, _ := p.NewTarget(b.URL)
	route := p.NewRoute("prod", "web")
	_ = route.SetGroups([]Group{{Release: "r1", Weight: 100, Targets: []*Target{tg}}})
	p.SetRoute("app.test", route)

	get := func(host string) (int, string) {
		req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/metrics", nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := get(ln.Addr().String()); code != 200 || !strings.Contains(body, "# TYPE") {
		t.Fatalf("own /metrics: %d %.80q", code, body)
	}
	if code, body := get("app.test"); code != 200 || body != "app" {
		t.Fatalf("a service's /metrics: %d %q", code, body)
	}
}

func TestShutdownLetsInFlightRequestsFinish(t *testing.T) {
	p := New(Options{})
	release := make(chan struct{})
	b := newBackend(t, "slow", func(w http.ResponseWriter, r *http.Request) {
		<-release
		_, _ = io.WriteString(w, "done")
	})
	tg, _ := p.NewTarget(b.URL)
	route := p.NewRoute("prod", "web")
	_ = route.SetGroups([]Group{{Release: "r1", Weight: 100, Targets: []*Target{tg}}})
	p.SetRoute("app.test", route)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- p.Serve(ln, ServeOptions{}) }()

	idle := dialRaw(t, ln.Addr().String()) // connected, no request: closed at once
	busy := dialRaw(t, ln.Addr().String())
	busy.send(t, "GET / HTTP/1.1\r\nHost: app.test\r\n\r\n")
	waitFor(t, func() bool { return tg.InFlight() == 1 })

	shut := make(chan error, 1)
	go func() { shut <- p.Shutdown(context.Background()) }()
	if !idle.closed() {
		t.Fatal("idle connection not closed by Shutdown")
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with a request in flight", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if resp, body := busy.read(t, "GET"); resp.StatusCode != 200 || body != "done" || !resp.Close {
		t.Fatalf("in-flight request: %d %q close=%v", resp.StatusCode, body, resp.Close)
	}
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("Serve returned %v", err)
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Fatal("listener still accepting after Shutdown")
	}
}

// selfSigned writes a certificate for 127.0.0.1 and localhost and its key
// as PEM files, returning their paths and a pool trusting the certificate.
func selfSigned(t *testing.T) (certFile, keyFile string, roots *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "velocity proxy test"},
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots = x509.NewCertPool()
	roots.AddCert(cert)
	return certFile, keyFile, roots
}

func TestServeTLS(t *testing.T) {
	certFile, keyFile, roots := selfSigned(t)
	cfg, err := LoadTLSConfig(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	p := New(Options{})
	b := newBackend(t, "echo", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		_, _ = fmt.Fprintf(w, "%s %s %s", r.Host, r.Header.Get("X-Forwarded-Proto"), body)
	})
	tg, _ := p.NewTarget(b.URL)
	route := p.NewRoute("prod", "web")
	_ = route.SetGroups([]Group{{Release: "r1", Weight: 100, Targets: []*Target{tg}}})
	p.SetRoute("app.test", route)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.Serve(ln, ServeOptions{TLS: cfg}) }()
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	url := "https://" + ln.Addr().String() + "/"

	for _, tc := range []struct {
		name   string
		h2     bool
		expect bool // Expect: 100-continue: handed to net/http after the handshake
		proto  int
	}{
		{"http/1.1", false, false, 1},
		{"http/1.1 handed off", false, true, 1},
		{"h2", true, false, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ExpectContinueTimeout: time.Second, Protocols: new(http.Protocols)}
			tr.Protocols.SetHTTP1(!tc.h2)
			tr.Protocols.SetHTTP2(tc.h2)
			defer tr.CloseIdleConnections()
			req, _ := http.NewRequest("PUT", url, strings.NewReader("sent"))
			req.Host = "app.test"
			if tc.expect {
				req.Header.Set("Expect", "100-continue")
			}
			resp, err := (&http.Client{Transport: tr}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || resp.ProtoMajor != tc.proto || string(body) != "app.test https sent" {
				t.Fatalf("got %d over HTTP/%d: %q", resp.StatusCode, resp.ProtoMajor, body)
			}
		})
	}

	// Plain HTTP to the HTTPS port is told so, as net/http tells it, and
	// is not proxied.
	for _, method := range []string{"GET", "POST"} {
		req, _ := http.NewRequest(method, "http://"+ln.Addr().String()+"/", nil)
		req.Host = "app.test"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("plain HTTP %s on the TLS listener: %v", method, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "HTTP request to an HTTPS server") {
			t.Fatalf("plain HTTP %s on the TLS listener: %d %q", method, resp.StatusCode, body)
		}
	}
	if _, err := LoadTLSConfig(certFile, filepath.Join(t.TempDir(), "missing.pem")); err == nil || !strings.Contains(err.Error(), "missing.pem") {
		t.Fatalf("missing key file: %v", err)
	}
}

func TestServeClosesIdleAndSlowConnections(t *testing.T) {
	p := New(Options{})
	b := newBackend(t, "app", nil)
	tg, _ := p.NewTarget(b.URL)
	route := p.NewRoute("prod", "web")
	_ = route.SetGroups([]Group{{Release: "r1", Weight: 100, Targets: []*Target{tg}}})
	p.SetRoute("app.test", route)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = p.Serve(ln, ServeOptions{IdleTimeout: 200 * time.Millisecond, ReadHeaderTimeout: 200 * time.Millisecond})
	}()
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })

	idle := dialRaw(t, ln.Addr().String())
	idle.send(t, "GET / HTTP/1.1\r\nHost: app.test\r\n\r\n")
	if _, body := idle.read(t, "GET"); body != "app" {
		t.Fatalf("got %q", body)
	}
	slow := dialRaw(t, ln.Addr().String())
	slow.send(t, "GET / HTTP/1.1\r\nHost: app.te") // and never the rest
	if !idle.closed() {
		t.Fatal("idle connection still open after IdleTimeout")
	}
	if !slow.closed() {
		t.Fatal("connection with an unfinished head still open after ReadHeaderTimeout")
	}
}
