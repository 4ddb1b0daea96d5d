package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// pathEchoProject is a service with one replica that answers every
// request with its method and path, over keep-alive HTTP/1.1 connections,
// so a request smuggled into a shared upstream connection shows as a
// client receiving an answer to someone else's path. Its backend frames
// request bodies itself (Content-Length and chunked), as any HTTP/1.1
// server does.
func pathEchoProject(t *testing.T) string {
	return project(t, map[string]string{
		"app.py": `import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def answer(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                self.rfile.read(size)
                self.rfile.readline()
                if size == 0:
                    break
        else:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
        out = (self.command + " " + self.path + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(out)))
        if self.path == "/hop-framing":
            self.send_header("Connection", "Content-Length")
        self.end_headers()
        self.wfile.write(out)
    do_GET = do_POST = answer
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
`,
		"velocity.yml": `
stages:
  - name: build
    actions:
      - { name: package, run: "mkdir -p out && cp app.py out/", outputs: [out] }
  - name: prod
    actions:
      - { name: deploy, deploy: api, environment: prod }
services:
  api:
    from: package
    run: exec python3 out/app.py
    replicas: 1
    health: { http: /healthz, interval: 200ms }
    deadline: 20s
environments:
  prod: {}
`,
	})
}

// exchangeRaw sends raw on a new connection to addr and reads one
// response with its body.
func exchangeRaw(t *testing.T, addr, raw string) (int, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the answer to %q: %v", raw, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the answer to %q: %v", raw, err)
	}
	return resp.StatusCode, string(b)
}

// TestProxyCannotBeMadeToSmuggleRequests is issue 10's reproduction
// through velocity serve: a client whose Connection header lists its own
// framing header (Content-Length, Transfer-Encoding) carries a second
// request in its body. Before the fix, the proxy dropped the
// Content-Length and forwarded the body, the service read GET /SMUGGLED as
// the next request on the shared upstream connection, and from then on
// every client received the answer to the previous client's request.
func TestProxyCannotBeMadeToSmuggleRequests(t *testing.T) {
	requireTool(t, "python3")
	e := newEnv(t)
	srv := startServer(t, e)
	dir := pathEchoProject(t)
	if r := e.run(dir, "run"); r.code != 0 {
		t.Fatalf("velocity run: exit %d\n%s%s\nserver:\n%s", r.code, r.stdout, r.stderr, srv.out)
	}
	const host = "api.prod.localhost"
	const inner = "GET /SMUGGLED HTTP/1.1\r\nHost: " + host + "\r\n\r\n"
	for _, tc := range []struct{ name, raw string }{
		{"Connection: close, Content-Length",
			"POST /attacker HTTP/1.1\r\nHost: " + host + "\r\nContent-Length: " + fmt.Sprint(len(inner)) +
				"\r\nConnection: close, Content-Length\r\n\r\n" + inner},
		{"Connection: Transfer-Encoding",
			"POST /attacker HTTP/1.1\r\nHost: " + host + "\r\nTransfer-Encoding: chunked\r\nConnection: close, Transfer-Encoding\r\n\r\n" +
				fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(inner), inner)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code, body := exchangeRaw(t, srv.addr, tc.raw); code != 200 || body != "POST /attacker\n" {
				t.Errorf("the attacker got %d %q, want its own answer", code, body)
			}
			for i := range 9 {
				path := fmt.Sprintf("/client-%d", i)
				code, body := exchangeRaw(t, srv.addr, "GET "+path+" HTTP/1.1\r\nHost: "+host+"\r\n\r\n")
				if code != 200 || body != "GET "+path+"\n" {
					t.Fatalf("client %d got %d %q, want the answer to its own GET %s\nserver:\n%s", i, code, body, path, srv.out)
				}
			}
		})
	}

	// The service's own Connection header cannot unframe its response:
	// the next response on the client's connection starts where it should.
	c, err := net.Dial("tcp", srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	rd := bufio.NewReader(c)
	for _, path := range []string{"/hop-framing", "/after"} {
		if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: "+host+"\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(rd, nil)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil || string(b) != "GET "+path+"\n" || strings.Contains(string(b), "HTTP/1.1") {
			t.Fatalf("GET %s on a kept-alive connection: %q %v", path, b, err)
		}
	}
}
