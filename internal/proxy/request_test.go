package proxy

import (
	"bufio"
	"bytes"
	"net/http"
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
