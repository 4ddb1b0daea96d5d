package proxy

import (
	"bytes"
	"errors"
	"fmt"
)

// errBadResponse is wrapped by errors about an upstream's response head.
var errBadResponse = errors.New("malformed response from upstream")

// response is an upstream response head parsed in place, like request.
type response struct {
	head    []byte
	status  int
	reason  []byte
	headers []header
	conn    [][]byte
	length  int64 // Content-Length, or -1 when absent
	chunked bool
	close   bool // the upstream connection cannot be reused
	hasID   bool // the upstream set its own X-Request-Id
}

func (r *response) parse(head []byte) error {
	*r = response{head: head, headers: r.headers[:0], conn: r.conn[:0], length: -1}
	line, rest, ok := cutLine(head)
	if !ok || len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[7] != '0' && line[7] != '1' ||
		line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
		return fmt.Errorf("%w: status line %s", errBadResponse, quoteBytes(line))
	}
	http10 := line[7] == '0'
	// HTTP/1.0 closes unless it says keep-alive; "close" anywhere wins,
	// whatever the order of the Connection headers, as for net/http.
	closeToken, keepAlive := false, false
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return fmt.Errorf("%w: status line %s", errBadResponse, quoteBytes(line))
		}
		r.status = r.status*10 + int(c-'0')
	}
	if r.status < 100 {
		return fmt.Errorf("%w: status %d", errBadResponse, r.status)
	}
	if len(line) > 13 {
		r.reason = line[13:]
	}
	var lengthValue []byte // as first given
	teIn10 := false
	for {
		line, rest, ok = cutLine(rest)
		if !ok {
			return fmt.Errorf("%w: header line not ended by CRLF", errBadResponse)
		}
		if len(line) == 0 {
			break
		}
		h, err := parseHeaderLine(line)
		if err != nil {
			return fmt.Errorf("%w: %w", errBadResponse, err)
		}
		switch {
		case fieldIs(h.name, "content-length"):
			// Repeats must match the first exactly, as net/http's client
			// wants: "5" and "05" are two lengths to it.
			n, ok := parseLength(h.value)
			if !ok || lengthValue != nil && !bytes.Equal(h.value, lengthValue) {
				return fmt.Errorf("%w: Content-Length %s", errBadResponse, quoteBytes(h.value))
			}
			r.length, lengthValue = n, h.value
		case fieldIs(h.name, "transfer-encoding"):
			if http10 {
				// HTTP/1.0 has no transfer codings: net/http ignores the
				// header (the body ends with its Content-Length or the
				// connection), and RFC 9112 6.1 has the connection
				// closed after such a message.
				teIn10 = true
				break
			}
			if r.chunked || !bytes.EqualFold(h.value, []byte("chunked")) {
				return fmt.Errorf("%w: unsupported Transfer-Encoding %s", errBadResponse, quoteBytes(h.value))
			}
			r.chunked = true
		case fieldIs(h.name, "connection"):
			r.conn = append(r.conn, h.value)
			closeToken = closeToken || hasToken(h.value, "close")
			keepAlive = keepAlive || hasToken(h.value, "keep-alive")
		case fieldIs(h.name, "x-request-id"):
			r.hasID = true
		case fieldIs(h.name, "trailer"):
			if namesFraming(h.value) {
				return fmt.Errorf("%w: Trailer names a framing field %s", errBadResponse, quoteBytes(h.value))
			}
		}
		r.headers = append(r.headers, h)
	}
	if r.chunked {
		r.length = -1 // chunked framing wins (RFC 9112 6.3)
	}
	r.close = closeToken || http10 && (!keepAlive || teIn10)
	if r.hasID && len(r.conn) > 0 && listedIn([]byte(hdrRequestID), r.conn) {
		r.hasID = false // dropped as hop-by-hop: the proxy sends its own
	}
	return nil
}

// bodyless reports responses that never have a body, whatever their
// headers say (RFC 9112 6.3).
func (r *response) bodyless(head bool) bool {
	return head || r.status < 200 || r.status == 204 || r.status == 304
}
