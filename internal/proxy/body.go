package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Message framing shared by the client and upstream sides of the HTTP/1.1
// data path: finding a head in a buffered reader, and copying bodies with
// a Content-Length, chunked, or delimited by the connection closing.

var (
	// errHeadTooLarge: a head did not fit the reader's buffer. On the
	// client side the connection then goes to net/http, which has larger
	// limits; on the upstream side the head is read into a heap buffer.
	errHeadTooLarge = errors.New("message head larger than the read buffer")
	// errFallback marks a request the data path leaves to net/http
	// (HTTP/1.0, Upgrade, Expect, bare-LF line ends, absolute targets...).
	errFallback = errors.New("request needs the net/http path")
	// errBadChunk is malformed chunked framing.
	errBadChunk = errors.New("malformed chunked encoding")
)

// maxResponseHead bounds an upstream response head read into the heap.
const maxResponseHead = 1 << 20

var crlfcrlf = []byte("\r\n\r\n")

// peekHead returns the message head (through the blank line) without
// consuming it: the caller discards it once done, and a connection handed
// to net/http still has it unread. The slice is valid until rd is read.
func peekHead(rd *bufio.Reader) ([]byte, error) {
	want := 1
	for {
		if _, err := rd.Peek(want); err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				return nil, errHeadTooLarge
			}
			if err == io.EOF && rd.Buffered() > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, err //nolint:wrapcheck // io.EOF between messages is a normal close
		}
		buf, _ := rd.Peek(rd.Buffered())
		if i := bytes.Index(buf, crlfcrlf); i >= 0 {
			return buf[:i+4], nil
		}
		if bytes.Contains(buf, []byte("\n\n")) {
			return nil, errFallback // lines ended by a bare LF
		}
		if len(buf) >= rd.Size() {
			return nil, errHeadTooLarge
		}
		want = len(buf) + 1
	}
}

// readLargeHead reads a head that did not fit rd's buffer into the heap,
// consuming it.
func readLargeHead(rd *bufio.Reader) ([]byte, error) {
	var head []byte
	for {
		line, err := rd.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return nil, fmt.Errorf("read response head: %w", err)
		}
		head = append(head, line...)
		if len(head) > maxResponseHead {
			return nil, fmt.Errorf("response head over %d bytes", maxResponseHead)
		}
		if bytes.HasSuffix(head, crlfcrlf) {
			return head, nil
		}
	}
}

// copyError tells which side of a copy failed: a read error is the
// sender's fault (client gone, upstream died), a write error the
// receiver's.
type copyError struct {
	err   error
	write bool
}

func (e *copyError) Error() string { return e.err.Error() }
func (e *copyError) Unwrap() error { return e.err }

// copyN copies n bytes from src to dst without allocating. Whenever src
// has nothing buffered, dst is flushed before blocking on the next read,
// so a slowly produced body reaches the receiver as it arrives.
func copyN(dst *bufio.Writer, src *bufio.Reader, n int64) error {
	for n > 0 {
		if src.Buffered() == 0 {
			if err := dst.Flush(); err != nil {
				return &copyError{err: err, write: true}
			}
			if _, err := src.Peek(1); err != nil {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return &copyError{err: err}
			}
		}
		k := min(int64(src.Buffered()), n)
		b, _ := src.Peek(int(k))
		if _, err := dst.Write(b); err != nil {
			return &copyError{err: err, write: true}
		}
		_, _ = src.Discard(int(k))
		n -= k
	}
	return nil
}

// Limits on chunked framing, the same as net/http's (net/http/internal
// chunked.go, transfer.go), so a body the proxy forwards is one a net/http
// target reads, and a sender cannot make the proxy copy unbounded framing
// around little data.
const (
	// maxChunkLine bounds a chunk-size line with its extensions: it has
	// fewer bytes before its CRLF.
	maxChunkLine = 4096
	// maxChunkOverhead bounds the framing bytes (size lines, extensions,
	// CRLFs) beyond 16 per chunk plus twice the chunk's data.
	maxChunkOverhead = 16 << 10
	// maxTrailer bounds the trailer section after the last chunk.
	maxTrailer = 4096
)

// copyChunked copies a chunked body verbatim (sizes, extensions, trailers)
// after checking its framing, so the receiver sees exactly the chunks and
// trailers the sender wrote.
func copyChunked(dst *bufio.Writer, src *bufio.Reader) error {
	var excess int64
	for {
		if src.Buffered() == 0 {
			if err := dst.Flush(); err != nil {
				return &copyError{err: err, write: true}
			}
		}
		line, err := src.ReadSlice('\n')
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return &copyError{err: err}
		}
		size, err := chunkSize(line)
		if err != nil {
			return &copyError{err: err}
		}
		excess = max(excess+int64(len(line))-16-2*size, 0) // as net/http counts
		if excess > maxChunkOverhead {
			return &copyError{err: fmt.Errorf("%w: more than %d bytes of framing around the data (maxChunkOverhead)", errBadChunk, maxChunkOverhead)}
		}
		if _, err := dst.Write(line); err != nil {
			return &copyError{err: err, write: true}
		}
		if size == 0 {
			return copyTrailers(dst, src)
		}
		if err := copyN(dst, src, size); err != nil {
			return err
		}
		if src.Buffered() < 2 {
			if err := dst.Flush(); err != nil {
				return &copyError{err: err, write: true}
			}
		}
		crlf, err := src.Peek(2)
		if err != nil || crlf[0] != '\r' || crlf[1] != '\n' {
			return &copyError{err: errBadChunk}
		}
		if _, err := dst.Write(crlf); err != nil {
			return &copyError{err: err, write: true}
		}
		_, _ = src.Discard(2)
	}
}

// copyTrailers copies the trailer section after the last chunk, through
// its closing blank line.
func copyTrailers(dst *bufio.Writer, src *bufio.Reader) error {
	total := 0
	for {
		line, err := src.ReadSlice('\n')
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return &copyError{err: err}
		}
		if len(line) < 2 || line[len(line)-2] != '\r' || bytes.IndexByte(line[:len(line)-2], '\r') >= 0 {
			return &copyError{err: errBadChunk}
		}
		if total += len(line); total > maxTrailer {
			return &copyError{err: fmt.Errorf("%w: trailer section over %d bytes (maxTrailer)", errBadChunk, maxTrailer)}
		}
		if len(line) > 2 {
			// A trailer is a header line: the receiver parses it as one.
			if _, err := parseHeaderLine(line[:len(line)-2]); err != nil {
				return &copyError{err: fmt.Errorf("%w: trailer: %w", errBadChunk, err)}
			}
		}
		if _, err := dst.Write(line); err != nil {
			return &copyError{err: err, write: true}
		}
		if len(line) == 2 {
			return nil
		}
	}
}

// chunkSize parses a chunk-size line ("1a;ext=v\r\n"), as net/http does:
// hex digits, then either extensions from a ';' on (passed on, not
// interpreted) or trailing whitespace, and no CR but the final one.
func chunkSize(line []byte) (int64, error) {
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return 0, errBadChunk
	}
	if len(line)-2 >= maxChunkLine { // as net/http: 4095 bytes before the CRLF
		return 0, fmt.Errorf("%w: chunk-size line over %d bytes (maxChunkLine)", errBadChunk, maxChunkLine)
	}
	line = line[:len(line)-2]
	if bytes.IndexByte(line, '\r') >= 0 {
		return 0, errBadChunk
	}
	var n int64
	digits := 0
	for i, c := range line {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		case c == ';' && digits > 0:
			return n, nil
		case (c == ' ' || c == '\t') && digits > 0:
			if len(bytes.Trim(line[i:], " \t")) > 0 {
				return 0, errBadChunk // "3 ;ext", "3 4"
			}
			return n, nil
		default:
			return 0, errBadChunk
		}
		if digits++; digits > 15 { // keeps n far from overflowing int64
			return 0, errBadChunk
		}
		n = n<<4 | int64(d)
	}
	if digits == 0 {
		return 0, errBadChunk
	}
	return n, nil
}

// copyUntilEOF copies a body delimited by the sender closing the
// connection, re-framed as chunks so the receiver's connection can stay
// open.
func copyUntilEOF(dst *bufio.Writer, src *bufio.Reader) error {
	var size [16]byte
	for {
		if src.Buffered() == 0 {
			if err := dst.Flush(); err != nil {
				return &copyError{err: err, write: true}
			}
			if _, err := src.Peek(1); err != nil {
				if err == io.EOF {
					break
				}
				return &copyError{err: err}
			}
		}
		b, _ := src.Peek(src.Buffered())
		hex := appendHex(size[:0], uint64(len(b)))
		hex = append(hex, '\r', '\n')
		if _, err := dst.Write(hex); err != nil {
			return &copyError{err: err, write: true}
		}
		if _, err := dst.Write(b); err != nil {
			return &copyError{err: err, write: true}
		}
		if _, err := dst.WriteString("\r\n"); err != nil {
			return &copyError{err: err, write: true}
		}
		_, _ = src.Discard(len(b))
	}
	if _, err := dst.WriteString("0\r\n\r\n"); err != nil {
		return &copyError{err: err, write: true}
	}
	return nil
}

func appendHex(dst []byte, v uint64) []byte {
	if v == 0 {
		return append(dst, '0')
	}
	var b [16]byte
	i := len(b)
	for v > 0 {
		i--
		b[i] = hexDigits[v&0xf]
		v >>= 4
	}
	return append(dst, b[i:]...)
}
