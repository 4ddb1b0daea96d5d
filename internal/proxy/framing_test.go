package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// HTTP/1.0 has no chunked coding: a request that claims one is refused
// and its connection closed, never forwarded without its body (net/http,
// which serves HTTP/1.0, ignores the header and would read the chunks as
// the next request).
func TestHTTP10RequestWithTransferEncodingIsRefused(t *testing.T) {
	f := newFixture(t)
	b := newBackend(t, "echo", nil)
	f.route(t, "app.test", b)
	chunks := "5\r\nhello\r\n0\r\n\r\n"
	for _, tc := range []struct{ name, raw string }{
		{"chunked", "POST / HTTP/1.0\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks},
		{"keep-alive", "POST / HTTP/1.0\r\nHost: app.test\r\nConnection: keep-alive\r\ntransfer-encoding: chunked\r\n\r\n" + chunks},
		{"with Content-Length", "POST / HTTP/1.0\r\nHost: app.test\r\nContent-Length: 15\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks},
		{"other coding", "POST / HTTP/1.0\r\nHost: app.test\r\nTransfer-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabc"},
		{"bare LF", "POST / HTTP/1.0\nHost: app.test\nTransfer-Encoding: chunked\n\n" + chunks},
		{"large head", "POST / HTTP/1.0\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\nCookie: " + strings.Repeat("c", 9<<10) + "\r\n\r\n" + chunks},
		{"past the buffer", "POST / HTTP/1.0\r\nHost: app.test\r\nCookie: " + strings.Repeat("c", 9<<10) + "\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks},
		{"past the buffer, bare LF", "POST / HTTP/1.0\nHost: app.test\nCookie: " + strings.Repeat("c", 20<<10) + "\nX: 1\nTransfer-Encoding: chunked\n\n" + chunks},
		{"long request line", "POST /" + strings.Repeat("p", 9<<10) + " HTTP/1.0\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, f.addr)
			c.send(t, tc.raw)
			resp, body := c.read(t, "POST")
			if resp.StatusCode != 400 || !strings.Contains(body, "Transfer-Encoding in an HTTP/1.0 request") {
				t.Fatalf("got %d %q, want 400 naming the HTTP/1.0 Transfer-Encoding", resp.StatusCode, body)
			}
			// Closed, with a reset when request bytes were left unread.
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.rd.ReadByte(); err == nil || isTimeout(err) {
				t.Fatalf("connection open after a request with faulty framing (%v)", err)
			}
		})
	}
	if n := b.hits.Load(); n != 0 {
		t.Fatalf("backend got %d requests", n)
	}
	// Plain HTTP/1.0 requests still go through, large heads included.
	for _, pad := range []int{0, 9 << 10, 100 << 10} {
		c := dialRaw(t, f.addr)
		c.send(t, "POST / HTTP/1.0\r\nHost: app.test\r\nCookie: "+strings.Repeat("c", pad)+"\r\nContent-Length: 3\r\nX-Transfer-Encoding: chunked\r\n\r\nabc")
		if resp, body := c.read(t, "POST"); resp.StatusCode != 200 || body != "echo" {
			t.Fatalf("HTTP/1.0 request with a %d-byte cookie: %d %q", pad, resp.StatusCode, body)
		}
	}
	if n := b.hits.Load(); n != 3 {
		t.Fatalf("backend got %d requests, want 3", n)
	}
}

// An HTTP/1.0 response's Transfer-Encoding is ignored, as net/http's
// client does: the body ends with its Content-Length or the connection,
// and the connection is not reused (RFC 9112 6.1).
func TestHTTP10ResponseWithTransferEncodingIsNotChunked(t *testing.T) {
	for _, tc := range []struct{ name, answer, body string }{
		{"until close", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "5\r\nhello\r\n0\r\n\r\n"},
		{"Content-Length", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\n", "3\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			b := newRawBackend(t, func(w *bufio.Writer, r *http.Request) bool {
				_, _ = io.WriteString(w, tc.answer)
				return !strings.Contains(tc.name, "close")
			})
			f.rawRoute(t, "app.test", b)
			c := dialRaw(t, f.addr)
			for i := range 2 {
				c.send(t, fmt.Sprintf("GET /%d HTTP/1.1\r\nHost: app.test\r\n\r\n", i))
				if resp, body := c.read(t, "GET"); resp.StatusCode != 200 || body != tc.body {
					t.Fatalf("got %d %q, want %q", resp.StatusCode, body, tc.body)
				}
			}
			if n := b.conns.Load(); n != 2 {
				t.Fatalf("%d upstream connections for 2 requests: one was reused after a faulty framing", n)
			}
		})
	}
}
