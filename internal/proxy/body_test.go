package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"strings"
	"testing"
)

// copyChunkedString runs copyChunked over in and returns what it wrote
// and what it left unread.
func copyChunkedString(in string) (out, rest string, err error) {
	src := bufio.NewReaderSize(strings.NewReader(in), readBuffer)
	var b bytes.Buffer
	w := bufio.NewWriter(&b)
	err = copyChunked(w, src)
	_ = w.Flush()
	left, _ := src.Peek(src.Buffered())
	return b.String(), string(left), err
}

// The chunked framing the proxy forwards is the one net/http reads: what
// it accepts is copied verbatim and ends where net/http's reader ends;
// what it refuses, net/http refuses too (or, marked stricter, would
// accept only by a rule the proxy does not take on).
func TestChunkedFraming(t *testing.T) {
	ok := []struct{ name, body string }{
		{"lowercase hex", "a\r\n0123456789\r\n0\r\n\r\n"},
		{"uppercase hex", "A\r\n0123456789\r\n0\r\n\r\n"},
		{"mixed hex", "1f\r\n" + strings.Repeat("x", 31) + "\r\n1F\r\n" + strings.Repeat("y", 31) + "\r\n0\r\n\r\n"},
		{"extension", "3;name=value\r\nabc\r\n0;last\r\n\r\n"},
		{"trailing whitespace", "3 \t\r\nabc\r\n0\r\n\r\n"},
		{"fifteen digits", "000000000000003\r\nabc\r\n0\r\n\r\n"},
		{"trailers", "3\r\nabc\r\n0\r\nX-Sum: 1\r\nX-Other: two\r\n\r\n"},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			out, rest, err := copyChunkedString(tc.body + "NEXT")
			if err != nil || out != tc.body || rest != "NEXT" {
				t.Fatalf("copied %q, left %q, err %v", out, rest, err)
			}
		})
	}
	bad := []struct{ name, body, why string }{
		{"no digits", ";ext\r\nabc\r\n0\r\n\r\n", ""},
		{"not hex", "g\r\nabc\r\n0\r\n\r\n", ""},
		{"0x prefix", "0x3\r\nabc\r\n0\r\n\r\n", ""},
		{"space before extension", "3 ;ext\r\nabc\r\n0\r\n\r\n", ""},
		{"space inside size", "3 4\r\nabc\r\n0\r\n\r\n", ""},
		{"sixteen digits", "0000000000000003\r\nabc\r\n0\r\n\r\n", ""}, // stricter than net/http's 16
		{"overflowing size", "10000000000000003\r\nabc\r\n0\r\n\r\n", ""},
		{"bare LF after size", "3\nabc\r\n0\r\n\r\n", ""},
		{"CR inside size line", "3;a\rb\r\nabc\r\n0\r\n\r\n", ""},
		{"data longer than size", "3\r\nabcd\r\n0\r\n\r\n", ""},
		{"LF only after data", "3\r\nabc\n0\r\n\r\n", ""},
		{"CR only after data", "3\r\nabc\r0\r\n\r\n", ""},
		{"bare LF in trailer", "0\r\nX: 1\n\r\n", ""},
		{"CR in trailer", "0\r\nX: a\rb\r\n\r\n", ""},
		{"trailer without colon", "0\r\nnot a trailer\r\n\r\n", "trailer"},
		{"folded trailer", "0\r\nX: 1\r\n 2\r\n\r\n", "trailer"},
		{"long size line", "1;" + strings.Repeat("e", maxChunkLine) + "\r\nx\r\n0\r\n\r\n", "maxChunkLine"},
		{"framing around little data", strings.Repeat("1;"+strings.Repeat("e", 100)+"\r\nx\r\n", 200) + "0\r\n\r\n", "maxChunkOverhead"},
		{"long trailers", "0\r\n" + strings.Repeat("X-Pad: "+strings.Repeat("p", 100)+"\r\n", 50) + "\r\n", "maxTrailer"},
		{"cut short", "3\r\nab", ""},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := copyChunkedString(tc.body)
			if err == nil {
				t.Fatalf("accepted, copied %q", out)
			}
			if tc.why != "" && !strings.Contains(err.Error(), tc.why) {
				t.Fatalf("error %q does not name %s", err, tc.why)
			}
			var ce *copyError
			if !errors.As(err, &ce) || ce.write {
				t.Fatalf("error %v is not the sender's", err)
			}
		})
	}
}
