package proxy

import (
	"errors"
	"testing"
)

// The response parser's decisions: what an upstream may send, and how
// its body is framed.
func TestParseResponseHead(t *testing.T) {
	type want struct {
		status  int
		length  int64
		chunked bool
		close   bool
	}
	for _, tc := range []struct {
		name, head string
		want       *want // nil: refused as a bad response (a 502)
	}{
		{"plain", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", &want{200, 5, false, false}},
		{"no reason", "HTTP/1.1 204\r\n\r\n", &want{204, -1, false, false}},
		{"empty reason", "HTTP/1.1 404 \r\n\r\n", &want{404, -1, false, false}},
		{"interim", "HTTP/1.1 103 Early Hints\r\n\r\n", &want{103, -1, false, false}},
		{"100 Continue", "HTTP/1.1 100 Continue\r\n\r\n", &want{100, -1, false, false}},
		{"until close", "HTTP/1.1 200 OK\r\n\r\n", &want{200, -1, false, false}},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", &want{200, -1, true, false}},
		{"chunked wins over a length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", &want{200, -1, true, false}},
		{"close", "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", &want{200, -1, false, true}},
		{"HTTP/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", &want{200, 1, false, true}},
		{"HTTP/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n", &want{200, 1, false, false}},
		{"HTTP/1.0 close after keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nConnection: close\r\nContent-Length: 1\r\n\r\n", &want{200, 1, false, true}},
		{"HTTP/1.0 keep-alive after close", "HTTP/1.0 200 OK\r\nConnection: close\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n", &want{200, 1, false, true}},
		{"keep-alive after close", "HTTP/1.1 200 OK\r\nConnection: close\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n", &want{200, 1, false, true}},
		{"close and keep-alive in one header", "HTTP/1.0 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 1\r\n\r\n", &want{200, 1, false, true}},
		{"HTTP/1.0 chunked", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n", &want{200, -1, false, true}},
		{"repeated length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", &want{200, 5, false, false}},
		{"two lengths", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", nil},
		{"one length spelt twice", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 05\r\n\r\n", nil},
		{"non-numeric length", "HTTP/1.1 200 OK\r\nContent-Length: five\r\n\r\n", nil},
		{"gzip coding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", nil},
		{"chunked twice", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", nil},
		{"short status line", "HTTP/1.1 20\r\n\r\n", nil},
		{"HTTP/1.2", "HTTP/1.2 200 OK\r\n\r\n", nil},
		{"HTTP/2", "HTTP/2.0 200 OK\r\n\r\n", nil},
		{"not HTTP", "HTTQ/1.1 200 OK\r\n\r\n", nil},
		{"no space after version", "HTTP/1.1_200 OK\r\n\r\n", nil},
		{"four-digit status", "HTTP/1.1 2000 OK\r\n\r\n", nil},
		{"status with a letter", "HTTP/1.1 2x0 OK\r\n\r\n", nil},
		{"status below 100", "HTTP/1.1 099 OK\r\n\r\n", nil},
		{"bare LF", "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", nil},
		{"bare LF in a header", "HTTP/1.1 200 OK\r\nX: 1\nContent-Length: 0\r\n\r\n", nil},
		{"trailer named Content-Length", "HTTP/1.1 200 OK\r\nTrailer: Content-Length\r\nTransfer-Encoding: chunked\r\n\r\n", nil},
		{"trailer", "HTTP/1.1 200 OK\r\nTrailer: X-Sum\r\nTransfer-Encoding: chunked\r\n\r\n", &want{200, -1, true, false}},
		{"obs-fold", "HTTP/1.1 200 OK\r\nX: 1\r\n 2\r\n\r\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r response
			err := r.parse([]byte(tc.head))
			if tc.want == nil {
				if !errors.Is(err, errBadResponse) {
					t.Fatalf("got %v (status %d, length %d), want a bad response", err, r.status, r.length)
				}
				return
			}
			got := want{r.status, r.length, r.chunked, r.close}
			if err != nil || got != *tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, *tc.want)
			}
		})
	}
}

// The reason phrase goes to the client as the upstream wrote it, however
// short; without one, the proxy writes the status's standard text.
func TestResponseReasonPhrase(t *testing.T) {
	for head, want := range map[string]string{
		"HTTP/1.1 200 K\r\n\r\n":           "K",
		"HTTP/1.1 299 Fine Thanks\r\n\r\n": "Fine Thanks",
		"HTTP/1.1 204\r\n\r\n":             "",
		"HTTP/1.1 404 \r\n\r\n":            "",
	} {
		var r response
		if err := r.parse([]byte(head)); err != nil || string(r.reason) != want {
			t.Errorf("%q: reason %q, %v; want %q", head, r.reason, err, want)
		}
	}
}

// An upstream's own X-Request-Id is passed on instead of the proxy's,
// unless its Connection header makes it hop-by-hop (dropped): then the
// proxy sends its own, so the client always gets exactly one.
func TestResponseRequestID(t *testing.T) {
	for head, want := range map[string]bool{
		"HTTP/1.1 200 OK\r\nX-Request-Id: abc\r\n\r\n":                             true,
		"HTTP/1.1 200 OK\r\nX-Request-Id: abc\r\nConnection: X-Other\r\n\r\n":      true,
		"HTTP/1.1 200 OK\r\nX-Request-Id: abc\r\nConnection: x-request-id\r\n\r\n": false,
		"HTTP/1.1 200 OK\r\nConnection: X-Request-Id\r\n\r\n":                      false,
		"HTTP/1.1 200 OK\r\n\r\n":                                                  false,
	} {
		var r response
		if err := r.parse([]byte(head)); err != nil || r.hasID != want {
			t.Errorf("%q: hasID %v, %v; want %v", head, r.hasID, err, want)
		}
	}
}
