package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// A deferred reply that the client's socket cannot take at once (the
// client is not reading) is finished by a blocking write, then the next
// request is read, and the connection is idle only once all of it is out.
func TestReplyTheSocketCannotTakeAtOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	nc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.(*net.TCPConn).SetWriteBuffer(4 << 10)
	_ = peer.(*net.TCPConn).SetReadBuffer(4 << 10)
	_ = peer.SetDeadline(time.Now().Add(10 * time.Second))

	cc := &clientConn{s: &server{}, nc: nc, raw: nc}
	cc.src = clientReader{cc: cc, src: nc}
	cc.rd = bufio.NewReader(&cc.src)
	cc.wr = bufio.NewWriterSize(clientWriter{cc}, 8<<10)
	cc.initReply()
	if cc.reply.raw == nil {
		t.Fatal("no raw socket for a TCP connection")
	}

	// Fill the socket until it takes nothing more.
	filler := bytes.Repeat([]byte("f"), 1<<10)
	sent := 0
	for {
		_ = nc.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		n, err := nc.Write(filler)
		sent += n
		if errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	_ = nc.SetWriteDeadline(time.Time{})

	reply := bytes.Repeat([]byte("r"), 6000)
	_, _ = cc.wr.Write(reply)
	if err := cc.flushIdle(); err != nil {
		t.Fatal(err)
	}
	if cc.reply.out == nil {
		t.Fatal("the reply was not deferred")
	}
	cc.state.Store(connActive)
	next := make(chan error, 1)
	go func() {
		b, err := cc.rd.Peek(3)
		if err == nil && string(b) != "GET" {
			err = errors.New("read " + string(b))
		}
		next <- err
	}()

	got := make([]byte, sent+len(reply))
	if _, err := io.ReadFull(peer, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[sent:], reply) {
		t.Fatal("the reply did not follow what was already in the socket")
	}
	if _, err := io.WriteString(peer, "GET / HTTP/1.1\r\n"); err != nil {
		t.Fatal(err)
	}
	if err := <-next; err != nil {
		t.Fatalf("reading the next request: %v", err)
	}
	if cc.state.Load() != connIdle {
		t.Fatal("not marked idle once the reply was written")
	}
}
