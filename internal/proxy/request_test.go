package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"
)

// FuzzRequestHead holds the data path's parser to net/http's: whatever it
// accepts, net/http must accept and read the same way, or the two could
// disagree on where a request ends.
func FuzzRequestHead(f *testing.F) {
	for _, seed := range []string{
		"GET / HTTP/1.1\r\nHost: app.test\r\n\r\n",
		"POST /a?b=c HTTP/1.1\r\nHost: app.test\r\nContent-Length: 5\r\n\r\n",
		"PUT /x HTTP/1.1\r\nhost: a\r\nTransfer-Encoding: chunked\r\nConnection: close, X-A\r\nX-A: 1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX-Request-Id:  id-1 \r\nTE: trailers\r\n\r\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		head := []byte(raw)
		i := bytes.Index(head, crlfcrlf)
		if i < 0 {
			return
		}
		head = head[:i+4]
		var r request
		if r.parse(head) != nil {
			return
		}
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(head)))
		if err != nil {
			t.Fatalf("data path accepts what net/http rejects (%v): %q", err, head)
		}
		chunked := len(req.TransferEncoding) == 1 && req.TransferEncoding[0] == "chunked"
		switch {
		case req.Method != string(r.method), req.RequestURI != string(r.target):
			t.Fatalf("request line: net/http %s %s, data path %s %s", req.Method, req.RequestURI, r.method, r.target)
		case req.Host != string(r.host):
			t.Fatalf("host: net/http %q, data path %q", req.Host, r.host)
		case chunked != r.chunked:
			t.Fatalf("chunked: net/http %v, data path %v", req.TransferEncoding, r.chunked)
		case !chunked && req.ContentLength != r.length:
			t.Fatalf("length: net/http %d, data path %d", req.ContentLength, r.length)
		case req.Close != r.close:
			t.Fatalf("close: net/http %v, data path %v", req.Close, r.close)
		}
	})
}

// FuzzResponseHead does the same for upstream response heads: the data
// path must frame a response body as net/http's client would.
func FuzzResponseHead(f *testing.F) {
	for _, seed := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
		"HTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-A\r\n\r\n",
		"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		head := []byte(raw)
		i := bytes.Index(head, crlfcrlf)
		if i < 0 {
			return
		}
		head = head[:i+4]
		var r response
		if r.parse(head) != nil || r.status < 200 {
			return
		}
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(head)), &http.Request{Method: "GET"})
		if err != nil {
			t.Fatalf("data path accepts what net/http rejects (%v): %q", err, head)
		}
		chunked := len(resp.TransferEncoding) == 1 && resp.TransferEncoding[0] == "chunked"
		noBody := r.bodyless(false)
		switch {
		case resp.StatusCode != r.status:
			t.Fatalf("status: net/http %d, data path %d", resp.StatusCode, r.status)
		case !noBody && chunked != r.chunked:
			t.Fatalf("chunked: net/http %v, data path %v", resp.TransferEncoding, r.chunked)
		case !noBody && !chunked && resp.ContentLength != r.length:
			t.Fatalf("length: net/http %d, data path %d", resp.ContentLength, r.length)
		}
	})
}

// The request parser's decisions, each one a rule the data path relies
// on to agree with net/http about where a request ends.
func TestParseRequestHead(t *testing.T) {
	for _, tc := range []struct {
		name, head string
		want       string // "" accepted, "fallback" left to net/http, else the 400's reason
	}{
		{"plain", "GET /a?b HTTP/1.1\r\nHost: a\r\n\r\n", ""},
		{"empty target", "GET  HTTP/1.1\r\nHost: a\r\n\r\n", "malformed request line"},
		{"no version", "GET /\r\nHost: a\r\n\r\n", "malformed request line"},
		{"no target", "GET\r\nHost: a\r\n\r\n", "malformed request line"},
		{"space in target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", "malformed request target"},
		{"tab in target", "GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n", "malformed request target"},
		{"DEL in target", "GET /a\x7fb HTTP/1.1\r\nHost: a\r\n\r\n", "malformed request target"},
		{"NUL in target", "GET /a\x00b HTTP/1.1\r\nHost: a\r\n\r\n", "malformed request target"},
		{"escape in path", "GET /a%2Fb%c3%A9 HTTP/1.1\r\nHost: a\r\n\r\n", ""},
		{"short escape in path", "GET /0%0 HTTP/1.1\r\nHost: a\r\n\r\n", "malformed request target"},
		{"bad escape in path", "GET /a%zzb HTTP/1.1\r\nHost: a\r\n\r\n", "malformed request target"},
		{"bare percent in query", "GET /a?q=100% HTTP/1.1\r\nHost: a\r\n\r\n", ""},
		{"absolute target", "GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", "fallback"},
		{"asterisk", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", "fallback"},
		{"CONNECT", "CONNECT /a HTTP/1.1\r\nHost: a\r\n\r\n", "fallback"},
		{"HTTP/1.0", "GET / HTTP/1.0\r\n\r\n", "fallback"},
		{"HTTP/1.0 chunked", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", "Transfer-Encoding in an HTTP/1.0 request"},
		{"HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", "fallback"},
		{"bad version", "GET / HTTQ/1.1\r\nHost: a\r\n\r\n", "malformed HTTP version"},
		{"bare LF ends the request line", "GET / HTTP/1.1\nHost: a\r\n\r\n", "fallback"},
		{"bare LF ends a header", "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", "fallback"},
		{"gzip coding", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", "fallback"},
		{"chunked twice", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", "fallback"},
		{"gzip, chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "fallback"},
		{"Chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n", ""},
		{"empty length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n", "invalid Content-Length"},
		{"18 digits", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 000000000000000003\r\n\r\n", ""},
		{"19 digits", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0000000000000000003\r\n\r\n", "invalid Content-Length"},
		{"signed length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\n", "invalid Content-Length"},
		{"list length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\n", "invalid Content-Length"},
		{"repeated length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", ""},
		{"same length spelt twice", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 03\r\n\r\n", "conflicting Content-Length"},
		{"length and chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", "both Content-Length and Transfer-Encoding"},
		{"space before colon", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length : 3\r\n\r\n", "malformed header line"},
		{"empty name", "GET / HTTP/1.1\r\nHost: a\r\n: 3\r\n\r\n", "malformed header line"},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\t2\r\n\r\n", "obsolete line folding"},
		{"CR in value", "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r2\r\n\r\n", "invalid character"},
		{"DEL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: 1\x7f\r\n\r\n", "invalid character"},
		{"tab in value", "GET / HTTP/1.1\r\nHost: a\r\nX: 1\t2\r\n\r\n", ""},
		{"no host", "GET / HTTP/1.1\r\n\r\n", "missing Host"},
		{"two hosts", "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", "more than one Host"},
		{"upgrade", "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", "fallback"},
		{"trailer named Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nTrailer: X-Sum, content-length\r\nTransfer-Encoding: chunked\r\n\r\n", "Trailer names a framing field"},
		{"trailer named Transfer-Encoding", "POST / HTTP/1.1\r\nHost: a\r\nTrailer: Transfer-Encoding\r\nTransfer-Encoding: chunked\r\n\r\n", "Trailer names a framing field"},
		{"trailer named Trailer", "POST / HTTP/1.1\r\nHost: a\r\nTrailer: Trailer\r\nTransfer-Encoding: chunked\r\n\r\n", "Trailer names a framing field"},
		{"trailer", "POST / HTTP/1.1\r\nHost: a\r\nTrailer: X-Sum\r\nTransfer-Encoding: chunked\r\n\r\n", ""},
		{"expect", "PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n", "fallback"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r request
			err := r.parse([]byte(tc.head))
			var bad badRequest
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want == "fallback" && err != errFallback:
				t.Fatalf("got %v, want it left to net/http", err)
			case tc.want != "" && tc.want != "fallback" && (!errors.As(err, &bad) || !strings.Contains(string(bad), tc.want)):
				t.Fatalf("got %v, want a 400 for %q", err, tc.want)
			}
		})
	}
	var r request
	if err := r.parse([]byte("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 000000000000000003\r\n\r\n")); err != nil || r.length != 3 || !r.hasLength {
		t.Fatalf("18-digit length: %d %v", r.length, err)
	}
	// Optional whitespace around a value is not part of it.
	if err := r.parse([]byte("POST / HTTP/1.1\r\nHost:\t a \t\r\nContent-Length:  3 \r\n\r\n")); err != nil || r.length != 3 || string(r.host) != "a" {
		t.Fatalf("whitespace around values: host %q, length %d, %v", r.host, r.length, err)
	}
}
