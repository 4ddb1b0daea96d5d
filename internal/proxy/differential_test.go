package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"testing"
)

// The differential fuzz targets run one byte stream through the data
// path's framing (readRequestHead or the response parser, then the body
// copy the proxy does) and through net/http's own parser, and require the
// same framing decision. Two parsers that disagree on where a message ends
// are how requests are smuggled and responses mixed up.
//
// Rules, for requests and responses alike:
//   - Where the proxy accepts, net/http accepts too, with the same method
//     and target (or status), the same body bytes, and the same end of the
//     message in the stream (so the next message starts at the same byte).
//   - What the proxy sends on (upstream for a request, to the client for a
//     response) parses under net/http as exactly one message with the same
//     body and nothing after it.
//   - The proxy may refuse what net/http accepts: refusing is safe. The
//     deliberate cases: Content-Length together with Transfer-Encoding
//     (net/http lets chunked win), a Transfer-Encoding in an HTTP/1.0
//     request (net/http ignores it and drops the body), obsolete line
//     folding, a Trailer header naming a framing field even without a
//     chunked body, chunk sizes over 15 hex digits, a CR inside a chunk-size
//     line or a trailer line, a bare LF ending a chunk-size or trailer
//     line (net/http allows both), chunk extensions without a size.
//   - A request the proxy leaves to net/http (HTTP/1.0, Upgrade, Expect,
//     absolute-form targets, bare-LF heads, heads over its buffer) is
//     net/http's decision by construction, and is not compared.

// readBuffer is the data path's read buffer size (readerPool).
const readBuffer = 8 << 10

// netHTTPRequest is what net/http makes of a request stream.
type netHTTPRequest struct {
	req      *http.Request
	body     []byte
	consumed int // bytes of the stream the request took, body included
}

func readNetHTTPRequest(data []byte) (*netHTTPRequest, error) {
	src := bytes.NewReader(data)
	br := bufio.NewReader(src)
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	return &netHTTPRequest{req: req, body: body, consumed: len(data) - src.Len() - br.Buffered()}, nil
}

func FuzzRequestFraming(f *testing.F) {
	for _, seed := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET /next HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		// CL.TE and TE.CL
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n",
		// Connection naming the framing
		"POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 33\r\nConnection: close, Content-Length\r\n\r\nGET /SMUGGLED HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: Transfer-Encoding\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"GET / HTTP/1.1\r\nConnection: host\r\nHost: a\r\n\r\n",
		// duplicate and odd lengths
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 03\r\n\r\nabc",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\nabc",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\nabc",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0000000000000000003\r\n\r\nabc",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\t3\t\r\n\r\nabc",
		// Transfer-Encoding variants
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: CHUNKED\r\n\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked \r\n\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\x0bchunked\r\n\r\n0\r\n\r\n",
		// TE in HTTP/1.0
		"POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"POST / HTTP/1.0\nHost: a\nTransfer-Encoding: chunked\n\n5\r\nhello\r\n0\r\n\r\n",
		// obs-fold, bare LF, bare CR
		"GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n 2\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n Content-Length: 3\r\n\r\nabc",
		"GET / HTTP/1.1\nHost: a\n\n",
		"GET / HTTP/1.1\r\nHost: a\nContent-Length: 3\r\n\r\nabc",
		"GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n",
		// chunk sizes and extensions
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nA\r\n0123456789\r\na;ext=1\r\n0123456789\r\n0;x=\"y\"\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3 ;ext\r\nabc\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n;ext\r\nabc\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffff\r\nabc\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000003\r\nabc\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0x3\r\nabc\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\n0\n\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-Trailer: 1\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTrailer: Content-Length\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nContent-Length: 5\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nnot a trailer\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: a\rb\r\n\r\n",
		// request lines
		"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.2\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		src := bytes.NewReader(data)
		rd := bufio.NewReaderSize(src, readBuffer)
		var req request
		err := readRequestHead(rd, &req)
		if errors.Is(err, errFallback) || errors.Is(err, errHeadTooLarge) {
			return // net/http's own decision
		}
		var bad badRequest
		if errors.As(err, &bad) {
			return // refused: always safe
		}
		if err != nil {
			return // an incomplete head: the data path waits for more
		}
		// The proxy's view: the body as it forwards it upstream, and
		// where the request ends in the stream.
		var up bytes.Buffer
		w := bufio.NewWriter(&up)
		cc := &clientConn{req: req, rd: rd, clientIP: "192.0.2.1", proto: "http", id: []byte("id")}
		cc.writeRequestHead(w)
		cc.discardHead()
		switch {
		case req.chunked:
			err = copyChunked(w, rd)
		case req.length > 0:
			err = copyN(w, rd, req.length)
		}
		if err != nil {
			return // a body the proxy cuts off: the connection closes
		}
		_ = w.Flush()
		consumed := len(data) - src.Len() - rd.Buffered()

		nh, nerr := readNetHTTPRequest(data)
		if nerr != nil {
			t.Fatalf("the proxy accepts what net/http refuses (%v):\n%q", nerr, data)
		}
		switch {
		case nh.req.Method != string(req.method) || nh.req.RequestURI != string(req.target):
			t.Fatalf("request line: net/http %s %s, proxy %s %s\n%q", nh.req.Method, nh.req.RequestURI, req.method, req.target, data)
		case nh.req.Host != string(req.host):
			t.Fatalf("host: net/http %q, proxy %q\n%q", nh.req.Host, req.host, data)
		case nh.req.Close != req.close:
			t.Fatalf("close: net/http %v, proxy %v\n%q", nh.req.Close, req.close, data)
		case nh.consumed != consumed:
			t.Fatalf("the request ends at byte %d for net/http, %d for the proxy\n%q", nh.consumed, consumed, data)
		}

		// What goes upstream is one request, framed as it arrived.
		fwd, ferr := readNetHTTPRequest(up.Bytes())
		switch {
		case ferr != nil:
			t.Fatalf("net/http cannot read what the proxy sends upstream (%v):\n%q\nfrom %q", ferr, up.Bytes(), data)
		case fwd.consumed != up.Len():
			t.Fatalf("the proxy sends %d bytes after the request upstream:\n%q\nfrom %q", up.Len()-fwd.consumed, up.Bytes(), data)
		case !bytes.Equal(fwd.body, nh.body):
			t.Fatalf("body: net/http %q, the proxy sends %q\n%q", nh.body, fwd.body, data)
		case fwd.req.Method != nh.req.Method || fwd.req.RequestURI != nh.req.RequestURI || fwd.req.Host != nh.req.Host:
			t.Fatalf("upstream request %s %s (Host %q), from %s %s (Host %q)", fwd.req.Method, fwd.req.RequestURI, fwd.req.Host, nh.req.Method, nh.req.RequestURI, nh.req.Host)
		case len(fwd.req.TransferEncoding) != len(nh.req.TransferEncoding) || fwd.req.ContentLength != nh.req.ContentLength:
			t.Fatalf("upstream framing TE %v CL %d, from TE %v CL %d\n%q", fwd.req.TransferEncoding, fwd.req.ContentLength, nh.req.TransferEncoding, nh.req.ContentLength, data)
		}
	})
}

// netHTTPResponse is what net/http's client makes of a response stream:
// the interim responses, the final one with its body, and how many bytes
// of the stream they took.
type netHTTPResponse struct {
	interim  []int
	resp     *http.Response
	body     []byte
	consumed int
}

func readNetHTTPResponse(data []byte, method string) (*netHTTPResponse, error) {
	src := bytes.NewReader(data)
	br := bufio.NewReader(src)
	var out netHTTPResponse
	for {
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			return nil, err
		}
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			out.resp = resp
			break
		}
		out.interim = append(out.interim, resp.StatusCode)
	}
	body, err := io.ReadAll(out.resp.Body)
	if err != nil {
		return nil, err
	}
	out.body, out.consumed = body, len(data)-src.Len()-br.Buffered()
	return &out, nil
}

func FuzzResponseFraming(f *testing.F) {
	for _, seed := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n",
		"HTTP/1.1 200 OK\r\n\r\nuntil the connection closes",
		"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n",
		"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n",
		"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 099 Low\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/2.0 200 OK\r\n\r\n",
		// framing named by Connection
		"HTTP/1.1 200 OK\r\nConnection: Content-Length\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nConnection: Transfer-Encoding\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
		// duplicate, different, odd lengths
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 02\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok!",
		"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTrailer: Content-Length\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nContent-Length: 5\r\n\r\n",
		// HTTP/1.0
		"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\nHTTP/1.0 200 OK\r\n\r\n",
		"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx",
		// chunks
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nA\r\n0123456789\r\na;x=y\r\n0123456789\r\n0 \r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\n0\n\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nabc",
		// header lines
		"HTTP/1.1 200 OK\r\nX: 1\r\n 2\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\nContent-Length: 0\n\n",
		"HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok",
	} {
		f.Add([]byte(seed), false)
	}
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), true)
	f.Fuzz(func(t *testing.T, data []byte, head bool) {
		method := http.MethodGet
		if head {
			method = http.MethodHead
		}
		// The proxy's view, as relay reads it and writes it to the client.
		src := bytes.NewReader(data)
		rd := bufio.NewReaderSize(src, readBuffer)
		var client bytes.Buffer
		w := bufio.NewWriter(&client)
		cc := &clientConn{req: request{method: []byte(method)}, wr: w, id: []byte("id")}
		resp := &cc.resp
		var interim []int
		for {
			h, err := peekHead(rd)
			if errors.Is(err, errHeadTooLarge) {
				h, err = readLargeHead(rd)
			} else if err == nil {
				_, _ = rd.Discard(len(h))
			}
			if err != nil || resp.parse(h) != nil || resp.status == http.StatusSwitchingProtocols {
				return // a 502: always safe
			}
			if resp.status >= 200 {
				break
			}
			interim = append(interim, resp.status)
			cc.writeResponseHead(false, false)
		}
		noBody := resp.bodyless(head)
		untilEOF := !noBody && !resp.chunked && resp.length < 0
		cc.writeResponseHead(untilEOF, false)
		var err error
		switch {
		case noBody:
		case resp.chunked:
			err = copyChunked(w, rd)
		case resp.length >= 0:
			err = copyN(w, rd, resp.length)
		default:
			err = copyUntilEOF(w, rd)
			resp.close = true
		}
		if err != nil {
			return // the response is cut short, and both connections closed
		}
		_ = w.Flush()
		consumed := len(data) - src.Len() - rd.Buffered()

		nh, nerr := readNetHTTPResponse(data, method)
		if nerr != nil {
			t.Fatalf("the proxy accepts what net/http refuses (%v):\n%q", nerr, data)
		}
		switch {
		case nh.resp.StatusCode != resp.status || len(nh.interim) != len(interim):
			t.Fatalf("status: net/http %v %d, proxy %v %d\n%q", nh.interim, nh.resp.StatusCode, interim, resp.status, data)
		case nh.consumed != consumed:
			t.Fatalf("the response ends at byte %d for net/http, %d for the proxy\n%q", nh.consumed, consumed, data)
		case nh.resp.Close && !resp.close:
			t.Fatalf("the proxy reuses a connection net/http would close\n%q", data)
		}

		// What the client gets is the same response, framed on its own.
		fwd, ferr := readNetHTTPResponse(client.Bytes(), method)
		switch {
		case ferr != nil:
			t.Fatalf("net/http cannot read what the proxy sends the client (%v):\n%q\nfrom %q", ferr, client.Bytes(), data)
		case fwd.consumed != client.Len():
			t.Fatalf("the proxy sends the client %d bytes after the response:\n%q\nfrom %q", client.Len()-fwd.consumed, client.Bytes(), data)
		case !bytes.Equal(fwd.body, nh.body):
			t.Fatalf("body: net/http %q, the proxy sends %q\n%q", nh.body, fwd.body, data)
		case fwd.resp.StatusCode != nh.resp.StatusCode:
			t.Fatalf("status to the client %d, from %d", fwd.resp.StatusCode, nh.resp.StatusCode)
		case head && !resp.chunked && nh.resp.StatusCode != http.StatusNoContent && fwd.resp.ContentLength != nh.resp.ContentLength:
			// A HEAD answer's length describes the GET body; a 204 has
			// none, and a chunked one's is void (RFC 9112 6.3): the proxy
			// sends no Content-Length with them.
			t.Fatalf("HEAD Content-Length to the client %d, from %d\n%q", fwd.resp.ContentLength, nh.resp.ContentLength, data)
		}
	})
}
