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

// pathEcho is a backend answering each request with its method, path and
// body, so every client can tell whether the answer is to its own request.
func pathEcho(t *testing.T) *backend {
	return newBackend(t, "echo", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		_, _ = fmt.Fprintf(w, "%s %s %q", r.Method, r.URL.Path, body)
	})
}

// smuggle is a request whose body is itself a request: a target that
// loses the body's framing reads GET /SMUGGLED as the next request on its
// connection, and answers the next client with it.
const smuggled = "GET /SMUGGLED HTTP/1.1\r\nHost: app.test\r\n\r\n"

var smugglingRequests = []struct{ name, raw, body string }{
	{"Connection lists Content-Length",
		"POST /attacker HTTP/1.1\r\nHost: app.test\r\nContent-Length: " + fmt.Sprint(len(smuggled)) +
			"\r\nConnection: close, Content-Length\r\n\r\n" + smuggled, smuggled},
	{"Connection lists Content-Length, keep-alive",
		"POST /attacker HTTP/1.1\r\nHost: app.test\r\nConnection: Content-Length\r\nContent-Length: " + fmt.Sprint(len(smuggled)) +
			"\r\n\r\n" + smuggled, smuggled},
	{"Connection lists Transfer-Encoding",
		"POST /attacker HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\nConnection: close, Transfer-Encoding\r\n\r\n" +
			fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(smuggled), smuggled), smuggled},
}

// A Connection header never removes the framing the proxy forwards the
// body with: each later client gets the answer to its own request.
func TestConnectionHeaderCannotSmuggleARequest(t *testing.T) {
	forEachFront(t, func(t *testing.T, f *fixture) {
		for _, tc := range smugglingRequests {
			t.Run(tc.name, func(t *testing.T) {
				b := pathEcho(t)
				f.route(t, "app.test", b)
				attacker := dialRaw(t, f.addr)
				attacker.send(t, tc.raw)
				if resp, body := attacker.read(t, "POST"); resp.StatusCode != 200 || body != fmt.Sprintf("POST /attacker %q", tc.body) {
					t.Fatalf("attacker got %d %q, want its own POST with its body", resp.StatusCode, body)
				}
				for i := range 5 {
					c := dialRaw(t, f.addr)
					path := fmt.Sprintf("/client-%d", i)
					c.send(t, "GET "+path+" HTTP/1.1\r\nHost: app.test\r\n\r\n")
					if resp, body := c.read(t, "GET"); resp.StatusCode != 200 || body != fmt.Sprintf("GET %s %q", path, "") {
						t.Fatalf("client %d got %d %q, want the answer to GET %s", i, resp.StatusCode, body, path)
					}
				}
				if n := b.hits.Load(); n != 6 {
					t.Fatalf("backend answered %d requests, want 6 (no smuggled one)", n)
				}
			})
		}
	})
}

// Nor does the upstream's Connection header remove a response's framing:
// the client reads each response on its connection where it ends.
func TestConnectionHeaderCannotUnframeAResponse(t *testing.T) {
	for _, tc := range []struct{ name, head string }{
		{"Content-Length", "HTTP/1.1 200 OK\r\nConnection: Content-Length\r\nContent-Length: %d\r\n\r\n%s"},
		{"Transfer-Encoding", "HTTP/1.1 200 OK\r\nConnection: Transfer-Encoding, X-A\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			b := newRawBackend(t, func(w *bufio.Writer, r *http.Request) bool {
				_, _ = fmt.Fprintf(w, tc.head, len(r.URL.Path), r.URL.Path)
				return true
			})
			f.rawRoute(t, "app.test", b)
			c := dialRaw(t, f.addr)
			for _, path := range []string{"/one", "/two", "/three"} {
				c.send(t, "GET "+path+" HTTP/1.1\r\nHost: app.test\r\n\r\n")
				if resp, body := c.read(t, "GET"); resp.StatusCode != 200 || body != path {
					t.Fatalf("got %d %q, want %q", resp.StatusCode, body, path)
				}
			}
		})
	}
}

// Host and the request id are not hop-by-hop: a Connection header naming
// them does not take them from the target.
func TestConnectionHeaderKeepsHostAndRequestID(t *testing.T) {
	f := newFixture(t)
	b := newBackend(t, "echo", func(w http.ResponseWriter, r *http.Request) {
		_, _ = fmt.Fprintf(w, "%s %s", r.Host, r.Header.Get("X-Request-Id"))
	})
	f.route(t, "app.test", b)
	c := dialRaw(t, f.addr)
	c.send(t, "GET / HTTP/1.1\r\nConnection: Host, X-Request-Id\r\nHost: app.test\r\nX-Request-Id: given\r\n\r\n")
	resp, body := c.read(t, "GET")
	host, id, _ := strings.Cut(body, " ")
	if resp.StatusCode != 200 || host != "app.test" {
		t.Fatalf("backend saw host %q (%d)", host, resp.StatusCode)
	}
	// The client made its id hop-by-hop, so the proxy gives the exchange
	// its own, the same upstream and back.
	if len(id) != 32 || resp.Header.Get("X-Request-Id") != id {
		t.Fatalf("request id: backend %q, response %q", id, resp.Header.Get("X-Request-Id"))
	}
}

// A target that writes more than its response's framing says (a body on
// a HEAD response, a common application bug, or bytes past its
// Content-Length) leaves them on its connection: it is not reused, or the
// next client would read them as its own response.
func TestUpstreamBytesPastTheResponseAreNeverAnotherClientsAnswer(t *testing.T) {
	for _, tc := range []struct{ name, method, answer string }{
		{"body on HEAD", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: %[1]d\r\n\r\n%[2]s"},
		{"body past Content-Length", "GET", "HTTP/1.1 200 OK\r\nContent-Length: %[1]d\r\n\r\n%[2]sHTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n/SMUGGLED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			b := newRawBackend(t, func(w *bufio.Writer, r *http.Request) bool {
				if r.URL.Path == "/first" {
					_, _ = fmt.Fprintf(w, tc.answer, len(r.URL.Path), r.URL.Path)
				} else {
					_, _ = fmt.Fprintf(w, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(r.URL.Path), r.URL.Path)
				}
				return true
			})
			f.rawRoute(t, "app.test", b)
			c := dialRaw(t, f.addr)
			c.send(t, tc.method+" /first HTTP/1.1\r\nHost: app.test\r\n\r\n")
			if resp, _ := c.read(t, tc.method); resp.StatusCode != 200 {
				t.Fatalf("first: %d", resp.StatusCode)
			}
			time.Sleep(20 * time.Millisecond) // the stray bytes arrive
			for i := range 3 {
				path := fmt.Sprintf("/client-%d", i)
				c := dialRaw(t, f.addr)
				c.send(t, "GET "+path+" HTTP/1.1\r\nHost: app.test\r\n\r\n")
				if resp, body := c.read(t, "GET"); resp.StatusCode != 200 || body != path {
					t.Fatalf("client %d got %d %q, want %q", i, resp.StatusCode, body, path)
				}
			}
		})
	}
}
