package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
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
		{"bare LF after a two-digit size", "10\nx\r\n0\r\n\r\n", ""}, // not size 1 either
		{"CR inside size line", "3;a\rb\r\nabc\r\n0\r\n\r\n", ""},
		{"data longer than size", "3\r\nabcd\r\n0\r\n\r\n", ""},
		{"LF only after data", "3\r\nabc\n0\r\n\r\n", ""},
		{"CR only after data", "3\r\nabc\r0\r\n\r\n", ""},
		{"LF after one byte too many", "3\r\nabcd\n0\r\n\r\n", ""}, // CR missing, not only LF
		{"bare LF in trailer", "0\r\nX: 1\n\r\n", ""},
		{"CR in trailer", "0\r\nX: a\rb\r\n\r\n", ""},
		{"trailer without colon", "0\r\nnot a trailer\r\n\r\n", "trailer"},
		{"folded trailer", "0\r\nX: 1\r\n 2\r\n\r\n", "trailer"},
		{"long size line", "1;" + strings.Repeat("e", maxChunkLine) + "\r\nx\r\n0\r\n\r\n", "maxChunkLine"},
		{"framing around little data", strings.Repeat("1;"+strings.Repeat("e", 100)+"\r\nx\r\n", 200) + "0\r\n\r\n", "maxChunkOverhead"},
		{"long trailers", "0\r\n" + strings.Repeat("X-Pad: "+strings.Repeat("p", 100)+"\r\n", 50) + "\r\n", "maxTrailer"},
		{"cut short", "3\r\nab", "unexpected EOF"},
		{"cut before a size line", "3\r\nabc\r\n", "unexpected EOF"},
		{"cut in the trailers", "3\r\nabc\r\n0\r\nX: 1\r\n", "unexpected EOF"},
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

// peekHead finds a head however it arrives, and tells a clean close
// between messages from one in the middle of a head.
func TestPeekHead(t *testing.T) {
	for _, tc := range []struct {
		name, in, head string
		err            error
	}{
		{"whole", "GET / HTTP/1.1\r\nHost: a\r\n\r\nbody", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", nil},
		{"empty head", "\r\n\r\nGET", "\r\n\r\n", nil},
		{"clean close", "", "", io.EOF},
		{"cut short", "GET / HTTP/1.1\r\nHost: a\r\n", "", io.ErrUnexpectedEOF},
		{"bare LF", "GET / HTTP/1.1\nHost: a\n\n", "", errFallback},
		{"larger than the buffer", "GET / HTTP/1.1\r\nX: " + strings.Repeat("x", 64), "", errHeadTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rd := bufio.NewReaderSize(strings.NewReader(tc.in), 32)
			if len(tc.in) > 32 && tc.err == nil {
				rd = bufio.NewReaderSize(strings.NewReader(tc.in), readBuffer)
			}
			head, err := peekHead(rd)
			if string(head) != tc.head || !errors.Is(err, tc.err) || err == nil && tc.err != nil {
				t.Fatalf("got %q, %v; want %q, %v", head, err, tc.head, tc.err)
			}
		})
	}
}

// A head that arrives in pieces is still the data path's: it is not
// handed to net/http for being incomplete at first (net/http would take
// this request, which has both framings, where the data path refuses it).
func TestHeadInPiecesStaysOnTheDataPath(t *testing.T) {
	f := newFixture(t)
	f.route(t, "app.test", newBackend(t, "echo", nil))
	c := dialRaw(t, f.addr)
	c.send(t, "POST / HTTP/1.1\r\nHost: app.test\r\n")
	time.Sleep(50 * time.Millisecond)
	c.send(t, "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
	resp, body := c.read(t, "POST")
	if resp.StatusCode != 400 || !strings.Contains(body, "both Content-Length and Transfer-Encoding") {
		t.Fatalf("got %d %q, want the data path's 400", resp.StatusCode, body)
	}
}

// The chunked limits hold to the byte, as net/http's do: a body at a limit
// passes, one byte more is refused naming the limit.
func TestChunkedLimitsAtTheirBoundary(t *testing.T) {
	// Each chunk line of n bytes (CRLF included) before one byte of data
	// adds n-18 to the framing overhead (16 per chunk and twice the data
	// are free).
	chunkLine := func(n int) string { return "1;" + strings.Repeat("e", n-4) + "\r\nx\r\n" }
	overhead := strings.Repeat(chunkLine(82), maxChunkOverhead/64)                     // exactly maxChunkOverhead
	trailer := func(n int) string { return "X: " + strings.Repeat("t", n-5) + "\r\n" } // n bytes
	for _, tc := range []struct {
		name, body, limit string
	}{
		{"size line", "1;" + strings.Repeat("e", maxChunkLine-3) + "\r\nx\r\n0\r\n\r\n", ""},
		{"size line", "1;" + strings.Repeat("e", maxChunkLine-2) + "\r\nx\r\n0\r\n\r\n", "maxChunkLine"},
		{"overhead", overhead + chunkLine(18) + "0\r\n\r\n", ""},
		{"overhead", overhead + chunkLine(19) + "0\r\n\r\n", "maxChunkOverhead"},
		{"trailers", "0\r\n" + trailer(maxTrailer-2) + "\r\n", ""},
		{"trailers", "0\r\n" + trailer(maxTrailer-1) + "\r\n", "maxTrailer"},
	} {
		out, _, err := copyChunkedString(tc.body)
		switch {
		case tc.limit == "" && (err != nil || out != tc.body):
			t.Errorf("%s at its limit: %v", tc.name, err)
		case tc.limit != "" && (err == nil || !strings.Contains(err.Error(), tc.limit)):
			t.Errorf("%s one byte over its limit: %v, want an error naming %s", tc.name, err, tc.limit)
		}
	}
}

// A chunk's data reaches the receiver as soon as the sender has written
// it, even while the CRLF that ends the chunk is still on its way: a
// stream that sends each event as one chunk is not held back by one event.
func TestChunkDataIsFlushedBeforeItsCRLF(t *testing.T) {
	pr, pw := io.Pipe()
	defer pr.Close()
	got := make(chan string, 16)
	w := bufio.NewWriter(writerFunc(func(b []byte) (int, error) {
		got <- string(b)
		return len(b), nil
	}))
	done := make(chan error, 1)
	go func() { done <- copyChunked(w, bufio.NewReader(pr)) }()
	if _, err := io.WriteString(pw, "5\r\nhello"); err != nil {
		t.Fatal(err)
	}
	var seen string
	for !strings.Contains(seen, "hello") {
		select {
		case b := <-got:
			seen += b
		case err := <-done:
			t.Fatalf("copy ended early: %v", err)
		case <-time.After(5 * time.Second):
			t.Fatalf("chunk data held back until its CRLF; flushed so far %q", seen)
		}
	}
	if _, err := io.WriteString(pw, "\r\n0\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	_ = w.Flush()
	for len(got) > 0 {
		seen += <-got
	}
	if seen != "5\r\nhello\r\n0\r\n\r\n" {
		t.Fatalf("copied %q", seen)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }
