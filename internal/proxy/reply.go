package proxy

import (
	"io"
	"net"
	"os"
	"syscall"
)

// A keep-alive client sends its next request only after it has read the
// response, so the read that follows writing a response through net.Conn
// nearly always finds nothing (EAGAIN) before the goroutine waits for the
// socket: two reads per request. The runtime clears the socket's readiness
// before a raw read calls its function, so when the response is written
// from inside that function, anything the socket then signals came after
// it, and the goroutine can wait without the read that finds nothing: one
// read per request, as an event loop that knows its socket is empty makes.
// The same holds upstream (see sendAndRead).
//
// Only the flush at the end of an exchange (flushIdle) is deferred this
// way; other writes, and TLS connections, go through net.Conn.

// reply is a client connection's deferred response: the bytes of the last
// flush, sent by the next read (replyAndRead).
type reply struct {
	raw      syscall.RawConn // nil for TLS
	deferred bool            // the next flush is deferred
	out      []byte          // aliases wr's buffer: valid until wr is written again
	exch     func(fd uintptr) bool
	x        rawExchange
}

// initReply prepares deferred replies on a plain TCP connection; made once
// per connection, so a reply allocates nothing.
func (cc *clientConn) initReply() {
	if cc.s.tls != nil {
		return
	}
	if sc, ok := cc.raw.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			cc.reply.raw, cc.reply.exch = raw, cc.replySocket
		}
	}
}

// flushIdle flushes the response before the connection waits for the
// next request: deferred to that wait where the socket allows it, in
// which case the connection is marked idle once the response is written
// (replyAndRead), not before, so Shutdown never closes it with the
// response unsent.
func (cc *clientConn) flushIdle() error {
	if cc.reply.raw == nil || cc.wr.Buffered() == 0 {
		return cc.wr.Flush() //nolint:wrapcheck // net.Conn's errors
	}
	cc.reply.deferred = true
	err := cc.wr.Flush()
	cc.reply.deferred = false
	return err //nolint:wrapcheck // net.Conn's errors
}

// clientWriter is wr's destination: the connection, unless a flush is
// deferred.
type clientWriter struct{ cc *clientConn }

func (w clientWriter) Write(p []byte) (int, error) {
	r := &w.cc.reply
	if r.deferred && r.out == nil {
		// bufio.Writer flushes its whole buffer at once and is not
		// written again before rd is read: p stays valid until then.
		r.out, r.deferred = p, false
		return len(p), nil
	}
	if r.out != nil {
		if err := w.cc.sendReply(); err != nil {
			return 0, err
		}
	}
	return w.cc.nc.Write(p) //nolint:wrapcheck // net.Conn's errors, as without the wrapper
}

// clientReader is rd's source: the connection, sending a deferred reply
// first. It reads src, which stays set when net/http takes the connection
// over (handoff) and cc.nc is cleared.
type clientReader struct {
	cc  *clientConn
	src net.Conn
}

func (r *clientReader) Read(p []byte) (int, error) {
	if r.cc.reply.out != nil {
		return r.cc.replyAndRead(p)
	}
	return r.src.Read(p) //nolint:wrapcheck // net.Conn's errors, as without the wrapper
}

// sendReply writes a deferred reply through net.Conn and marks the
// connection idle.
func (cc *clientConn) sendReply() error {
	out := cc.reply.out
	cc.reply.out = nil
	_, err := cc.nc.Write(out)
	cc.state.Store(connIdle)
	return err //nolint:wrapcheck // net.Conn's errors
}

// replyAndRead writes the deferred reply and reads the next request into
// p with one raw read (see above). The read deadline applies as to
// net.Conn.Read. A reply the socket does not take at once finishes through
// net.Conn.
func (cc *clientConn) replyAndRead(p []byte) (int, error) {
	r := &cc.reply
	r.x = rawExchange{p: p}
	err := r.raw.Read(r.exch)
	r.x.p = nil
	if err != nil {
		r.out = nil
		return 0, err //nolint:wrapcheck // the raw read's *net.OpError, as net.Conn.Read's
	}
	if r.x.err != nil {
		r.out = nil
		return 0, r.x.err
	}
	if r.out != nil { // the socket took part of the reply: send the rest
		if err := cc.sendReply(); err != nil {
			return 0, err
		}
		if cc.s.closing.Load() {
			return 0, io.EOF
		}
		return cc.nc.Read(p) //nolint:wrapcheck // net.Conn's errors
	}
	if r.x.n == 0 {
		return 0, io.EOF
	}
	return r.x.n, nil
}

// replySocket is replyAndRead's raw read: called once the runtime has
// cleared the socket's readiness, then whenever it is readable.
func (cc *clientConn) replySocket(fd uintptr) bool {
	r := &cc.reply
	if !r.x.sent {
		r.x.sent = true
		for len(r.out) > 0 {
			n, err := writeFD(fd, r.out)
			if err != nil {
				if err == syscall.EAGAIN {
					return true // replyAndRead sends the rest
				}
				r.out = nil
				r.x.err = &net.OpError{Op: "write", Net: "tcp", Source: cc.raw.LocalAddr(), Addr: cc.raw.RemoteAddr(), Err: os.NewSyscallError("write", err)}
				return true
			}
			r.out = r.out[n:]
		}
		r.out = nil
		// Written: idle from now on. Shutdown marks closing before it
		// closes idle connections, so either it sees this connection
		// idle, with nothing left to send, or this sees closing.
		cc.state.Store(connIdle)
		if cc.s.closing.Load() {
			r.x.err = io.EOF
			return true
		}
		return false // wait for the next request
	}
	n, err := readFD(fd, r.x.p)
	if err == syscall.EAGAIN {
		return false // woken early; wait again
	}
	if err != nil {
		r.x.err = &net.OpError{Op: "read", Net: "tcp", Source: cc.raw.LocalAddr(), Addr: cc.raw.RemoteAddr(), Err: os.NewSyscallError("read", err)}
		return true
	}
	r.x.n = n
	return true
}
