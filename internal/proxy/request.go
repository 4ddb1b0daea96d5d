package proxy

import (
	"bytes"
	"strconv"
)

// header is one header line, both halves pointing into the message head.
type header struct{ name, value []byte }

// request is a client request head parsed in place: every slice points into
// the connection's read buffer, so parsing allocates nothing and the head
// is valid until the body is read.
type request struct {
	head    []byte
	method  []byte
	target  []byte
	headers []header
	host    []byte
	id      []byte   // the client's X-Request-Id, if any
	conn    [][]byte // Connection header values: hop-by-hop header names
	length  int64    // Content-Length; 0 without a body
	// hasLength: the client sent a Content-Length (possibly 0), which the
	// proxy sends on as it parsed it.
	hasLength bool
	chunked   bool
	close     bool // the client asked to close after this response
	trailer   bool // "TE: trailers": the client accepts trailers
	http10    bool // an HTTP/1.0 request, which net/http serves
	// spilled is a head too large for the read buffer that was read from
	// it to be checked (readRequestHead); net/http reads it first.
	spilled []byte
}

// badRequest is a request the proxy answers with 400 and a reason.
type badRequest string

func (e badRequest) Error() string { return string(e) }

// parse reads head (through its blank line) into r. It returns errFallback
// for requests valid but left to net/http, and a badRequest for malformed
// ones.
func (r *request) parse(head []byte) error {
	*r = request{head: head, headers: r.headers[:0], conn: r.conn[:0]}
	line, rest, ok := cutLine(head)
	if !ok {
		return errFallback
	}
	if err := r.parseRequestLine(line); err != nil {
		return err
	}
	if r.http10 {
		if http10Chunked(head) {
			return errHTTP10Chunked
		}
		return errFallback // HTTP/1.0 keep-alive rules
	}
	var lengthValue []byte // as first given: repeats must match it exactly, as net/http wants
	for {
		line, rest, ok = cutLine(rest)
		if !ok {
			return errFallback
		}
		if len(line) == 0 {
			break
		}
		h, err := parseHeaderLine(line)
		if err != nil {
			return err
		}
		switch {
		case fieldIs(h.name, "host"):
			if r.host != nil {
				return badRequest("more than one Host header")
			}
			r.host = h.value
		case fieldIs(h.name, "content-length"):
			n, ok := parseLength(h.value)
			if !ok {
				return badRequest("invalid Content-Length " + quoteBytes(h.value))
			}
			if lengthValue != nil && !bytes.Equal(h.value, lengthValue) {
				return badRequest("conflicting Content-Length headers")
			}
			r.length, lengthValue, r.hasLength = n, h.value, true
		case fieldIs(h.name, "transfer-encoding"):
			if r.chunked || !bytes.EqualFold(h.value, []byte("chunked")) {
				return errFallback // net/http answers codings other than chunked
			}
			r.chunked = true
		case fieldIs(h.name, "connection"):
			r.conn = append(r.conn, h.value)
			if hasToken(h.value, "upgrade") {
				return errFallback
			}
			if hasToken(h.value, "close") {
				r.close = true
			}
		case fieldIs(h.name, "upgrade"), fieldIs(h.name, "expect"):
			return errFallback
		case fieldIs(h.name, "x-request-id"):
			if len(h.value) == 0 {
				continue // as if absent: the proxy sends its own
			}
			if r.id == nil {
				r.id = h.value
			}
		case fieldIs(h.name, "te"):
			r.trailer = hasToken(h.value, "trailers")
		case fieldIs(h.name, "trailer"):
			if namesFraming(h.value) {
				return badRequest("Trailer names a framing field " + quoteBytes(h.value))
			}
		}
		r.headers = append(r.headers, h)
	}
	if r.host == nil {
		return badRequest("missing Host header")
	}
	if r.chunked && lengthValue != nil {
		// Two framings let a front end and a back end disagree on where
		// the request ends (request smuggling).
		return badRequest("both Content-Length and Transfer-Encoding")
	}
	if r.id != nil && len(r.conn) > 0 && listedIn([]byte(hdrRequestID), r.conn) {
		r.id = nil // not forwarded (hop-by-hop), so not the request's id either
	}
	return nil
}

func (r *request) parseRequestLine(line []byte) error {
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 {
		return badRequest("malformed request line")
	}
	r.method = line[:sp]
	rest := line[sp+1:]
	sp = bytes.LastIndexByte(rest, ' ')
	if sp <= 0 {
		return badRequest("malformed request line")
	}
	r.target, rest = rest[:sp], rest[sp+1:]
	if !isToken(r.method) {
		return badRequest("malformed request method")
	}
	inPath := true
	for i, c := range r.target {
		if c <= ' ' || c == 0x7f {
			return badRequest("malformed request target")
		}
		if c == '?' {
			inPath = false
		}
		// RFC 3986 §2.1: "%" is followed by two hex digits. net/http
		// refuses a path otherwise (it keeps a query as it is), and so
		// does the proxy, so that the backend never sees a path its own
		// parser may read differently.
		if inPath && c == '%' && (i+2 >= len(r.target) || !isHex(r.target[i+1]) || !isHex(r.target[i+2])) {
			return badRequest("malformed request target")
		}
	}
	switch {
	case string(rest) == "HTTP/1.1":
	case string(rest) == "HTTP/1.0":
		r.http10 = true
		return nil
	case bytes.HasPrefix(rest, []byte("HTTP/")):
		return errFallback // net/http's 505, or its rules for HTTP/1.2+
	default:
		return badRequest("malformed HTTP version")
	}
	if r.target[0] != '/' || string(r.method) == "CONNECT" {
		return errFallback // absolute-form, authority-form, "*"
	}
	return nil
}

// errHTTP10Chunked refuses an HTTP/1.0 request with a Transfer-Encoding
// header. HTTP/1.0 has no chunked coding: RFC 9112 6.1 says to treat its
// framing as faulty and close the connection, and net/http, which serves
// HTTP/1.0 for the proxy, ignores the header and reads the body as empty,
// so forwarding would lose the body and read it as the next request.
// Refusing (as nginx does) tells the client instead.
const errHTTP10Chunked = badRequest("Transfer-Encoding in an HTTP/1.0 request")

// http10Chunked reports whether an HTTP/1.0 request head (lines ended by
// CRLF or, as net/http accepts, a bare LF) has a Transfer-Encoding header.
func http10Chunked(head []byte) bool {
	first := true
	for len(head) > 0 {
		line := head
		if i := bytes.IndexByte(head, '\n'); i >= 0 {
			line, head = head[:i], head[i+1:]
		} else {
			head = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		switch {
		case first:
			if !bytes.HasSuffix(line, []byte(" HTTP/1.0")) {
				return false
			}
			first = false
		case len(line) == 0:
			return false // the end of the head
		default:
			if name, _, ok := bytes.Cut(line, []byte(":")); ok && fieldIs(name, "transfer-encoding") {
				return true
			}
		}
	}
	return false
}

// parseHeaderLine splits "Name: value", trimming the value's optional
// whitespace, and rejects what RFC 9112 lets a server reject.
func parseHeaderLine(line []byte) (header, error) {
	if line[0] == ' ' || line[0] == '\t' {
		return header{}, badRequest("obsolete line folding in header")
	}
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 || !isToken(line[:colon]) {
		return header{}, badRequest("malformed header line")
	}
	v := line[colon+1:]
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	for _, c := range v {
		if c < ' ' && c != '\t' || c == 0x7f {
			return header{}, badRequest("invalid character in header " + quoteBytes(line[:colon]))
		}
	}
	return header{name: line[:colon], value: v}, nil
}

// cutLine splits off one CRLF-terminated line; ok is false for a line
// ended by a bare LF.
func cutLine(b []byte) (line, rest []byte, ok bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 1 || b[i-1] != '\r' {
		return nil, nil, false
	}
	return b[:i-1], b[i+1:], true
}

func parseLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// fieldIs compares a header name with a lower-case one, ignoring case.
func fieldIs(name []byte, lower string) bool {
	if len(name) != len(lower) {
		return false
	}
	for i := range len(name) {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// hasToken reports whether a comma-separated header value lists token
// (lower case), ignoring case.
func hasToken(v []byte, token string) bool {
	for len(v) > 0 {
		var item []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			item, v = v[:i], v[i+1:]
		} else {
			item, v = v, nil
		}
		if fieldIs(bytes.TrimSpace(item), token) {
			return true
		}
	}
	return false
}

// namesFraming reports a Trailer header that announces a framing field as
// a trailer, which net/http refuses (RFC 9110 6.5.1: framing cannot come
// after the content it frames).
func namesFraming(v []byte) bool {
	return hasToken(v, "content-length") || hasToken(v, "transfer-encoding") || hasToken(v, "trailer")
}

// listedIn reports whether name is one of the comma-separated names in any
// of the Connection values. Callers never apply it to the framing headers
// (Content-Length, Transfer-Encoding) or Host: see writeRequestHead.
func listedIn(name []byte, conn [][]byte) bool {
	for _, v := range conn {
		for len(v) > 0 {
			var item []byte
			if i := bytes.IndexByte(v, ','); i >= 0 {
				item, v = v[:i], v[i+1:]
			} else {
				item, v = v, nil
			}
			if bytes.EqualFold(bytes.TrimSpace(item), name) {
				return true
			}
		}
	}
	return false
}

// hopByHop reports headers that describe one connection, not the message
// (RFC 9110 7.6.1), which a proxy must not forward.
func hopByHop(name []byte) bool {
	switch len(name) {
	case 2:
		return fieldIs(name, "te")
	case 7:
		return fieldIs(name, "upgrade") || fieldIs(name, "trailer")
	case 10:
		return fieldIs(name, "connection") || fieldIs(name, "keep-alive")
	case 16:
		return fieldIs(name, "proxy-connection")
	case 17:
		return fieldIs(name, "transfer-encoding")
	case 18:
		return fieldIs(name, "proxy-authenticate")
	case 19:
		return fieldIs(name, "proxy-authorization")
	}
	return false
}

// forwardedHeader reports the headers the proxy sets itself: as the edge,
// it does not pass on what clients claim about earlier hops.
func forwardedHeader(name []byte) bool {
	switch len(name) {
	case 9:
		return fieldIs(name, "forwarded")
	case 15:
		return fieldIs(name, "x-forwarded-for")
	case 16:
		return fieldIs(name, "x-forwarded-host")
	case 17:
		return fieldIs(name, "x-forwarded-proto")
	}
	return false
}

// isToken reports a non-empty RFC 9110 token (method, header name).
func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c >= 0x80 || !tokenChars[c] {
			return false
		}
	}
	return true
}

var tokenChars = func() (t [128]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// quoteBytes quotes a piece of a client's request for an error message.
func quoteBytes(b []byte) string {
	const limit = 64
	if len(b) > limit {
		b = b[:limit]
	}
	return strconv.Quote(string(b))
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
