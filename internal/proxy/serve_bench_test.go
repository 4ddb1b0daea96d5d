package proxy

import (
	"bufio"
	"bytes"
	"net"
	"testing"
)

// fixedResponse is what fixedBackend answers to every request.
var fixedResponse = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 5\r\n\r\nhello")

// fixedBackend answers every request head on a keep-alive connection with a
// fixed response, allocating nothing per request, so a benchmark's
// allocations are the proxy's own.
func fixedBackend(b *testing.B) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				rd := bufio.NewReader(c)
				for {
					if _, err := peekHead(rd); err != nil {
						return
					}
					buf, _ := rd.Peek(rd.Buffered())
					_, _ = rd.Discard(bytes.Index(buf, crlfcrlf) + 4)
					if _, err := c.Write(fixedResponse); err != nil {
						return
					}
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// BenchmarkServeKeepAlive sends GETs one after another on one keep-alive
// connection through Serve's data path: allocs/op are the data path's per
// request (the backend and client allocate nothing per request).
func BenchmarkServeKeepAlive(b *testing.B) {
	f := newFixture(b)
	t := f.target(b, fixedBackend(b))
	r := f.p.NewRoute("prod", "web")
	if err := r.SetGroups([]Group{{Release: "r1", Weight: 100, Targets: []*Target{t}}}); err != nil {
		b.Fatal(err)
	}
	f.p.SetRoute("bench.test", r)
	c, err := net.Dial("tcp", f.addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	rd := bufio.NewReader(c)
	req := []byte("GET / HTTP/1.1\r\nHost: bench.test\r\nUser-Agent: bench\r\n\r\n")
	exchange := func() {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		head, err := peekHead(rd)
		if err != nil {
			b.Fatal(err)
		}
		if !bytes.HasPrefix(head, []byte("HTTP/1.1 200 ")) {
			b.Fatalf("response %q", head)
		}
		_, _ = rd.Discard(len(head) + len("hello"))
	}
	exchange() // dial the upstream connection
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		exchange()
	}
}
