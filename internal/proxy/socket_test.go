package proxy

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (*net.TCPConn, *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b := <-accepted
	if b == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { _ = a.Close(); _ = b.Close() })
	return a.(*net.TCPConn), b.(*net.TCPConn)
}

// onSocket runs f once on c's descriptor, without waiting for it.
func onSocket(t *testing.T, c *net.TCPConn, f func(fd uintptr)) {
	t.Helper()
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	if err := raw.Read(func(fd uintptr) bool { f(fd); return true }); err != nil {
		t.Fatal(err)
	}
}

// The data path's raw socket calls report what the socket holds as the
// callers expect: EAGAIN for nothing yet, 0 for the peer's close, and a
// peek that leaves the byte for the read.
func TestRawSocketCalls(t *testing.T) {
	a, b := tcpPair(t)
	buf := make([]byte, 16)
	var one [1]byte
	onSocket(t, b, func(fd uintptr) {
		if n, err := peekFD(fd, &one); !errors.Is(err, syscall.EAGAIN) {
			t.Errorf("peek of an empty socket: %d, %v; want EAGAIN", n, err)
		}
		if n, err := readFD(fd, buf); !errors.Is(err, syscall.EAGAIN) || n != 0 {
			t.Errorf("read of an empty socket: %d, %v; want 0, EAGAIN", n, err)
		}
	})
	onSocket(t, a, func(fd uintptr) {
		if n, err := writeFD(fd, []byte("hello")); n != 5 || err != nil {
			t.Errorf("write: %d, %v", n, err)
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for {
		var n int
		var err error
		onSocket(t, b, func(fd uintptr) { n, err = peekFD(fd, &one) })
		if err == nil {
			if n != 1 || one[0] != 'h' {
				t.Fatalf("peek: %d %q", n, one[0])
			}
			break
		}
		if !errors.Is(err, syscall.EAGAIN) || time.Now().After(deadline) {
			t.Fatalf("peek after a write: %v", err)
		}
		time.Sleep(time.Millisecond)
	}
	onSocket(t, b, func(fd uintptr) {
		if n, err := readFD(fd, buf); string(buf[:n]) != "hello" || err != nil {
			t.Errorf("read after the peek: %q, %v", buf[:n], err)
		}
	})
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	for {
		var n int
		var err error
		onSocket(t, b, func(fd uintptr) { n, err = readFD(fd, buf) })
		if err == nil {
			if n != 0 {
				t.Fatalf("read after the peer closed: %d bytes", n)
			}
			break
		}
		if !errors.Is(err, syscall.EAGAIN) || time.Now().After(deadline) {
			t.Fatalf("read after the peer closed: %v", err)
		}
		time.Sleep(time.Millisecond)
	}
	onSocket(t, b, func(fd uintptr) {
		if n, err := peekFD(fd, &one); n != 0 || err != nil {
			t.Errorf("peek after the peer closed: %d, %v; want 0, nil", n, err)
		}
	})
}
