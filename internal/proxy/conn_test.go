package proxy

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// panicHandler is a slog.Handler that panics on warnings: a stand-in for
// any bug met while serving one connection.
type panicHandler struct{ slog.Handler }

func (panicHandler) Enabled(context.Context, slog.Level) bool { return true }

func (panicHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		panic("logging: " + r.Message)
	}
	return nil
}

// A panic while serving one connection ends that connection only: the
// proxy keeps serving the others.
func TestPanicInOneConnectionLeavesTheProxyServing(t *testing.T) {
	f := newFixtureWith(t, viaServe, Options{Logger: slog.New(panicHandler{})})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	r := f.p.NewRoute("prod", "dead")
	if err := r.SetGroups([]Group{{Release: "r1", Weight: 100, Targets: []*Target{f.target(t, dead)}}}); err != nil {
		t.Fatal(err)
	}
	f.p.SetRoute("dead.test", r)
	f.route(t, "live.test", newBackend(t, "live", nil))

	// The dial fails, the target goes unhealthy, and logging it panics.
	c := dialRaw(t, f.addr)
	c.send(t, "GET / HTTP/1.1\r\nHost: dead.test\r\n\r\n")
	if _, err := http.ReadResponse(c.rd, nil); err == nil {
		t.Fatal("an answer from the connection that panicked")
	}
	for range 3 {
		if resp, body := f.do(t, "GET", "live.test", "/", nil); resp.StatusCode != 200 || body != "live" {
			t.Fatalf("after a panic: %d %q", resp.StatusCode, body)
		}
	}
}

// A request that cannot be replayed is sent once, even when the reused
// upstream connection it went out on fails before any answer: a POST
// (with or without a body) or a PUT whose body was sent may have been
// acted on. A GET is sent again on a new connection.
func TestRequestsThatCannotBeReplayedAreSentOnce(t *testing.T) {
	f := newFixture(t)
	var drops atomic.Int64
	b := newRawBackend(t, func(w *bufio.Writer, r *http.Request) bool {
		if r.URL.Path == "/drop" && drops.Add(1) == 1 {
			return false // takes the request, dies before answering
		}
		_, _ = io.WriteString(w, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		return true
	})
	f.rawRoute(t, "app.test", b)
	client := &http.Client{Transport: f.client.Transport, Timeout: 3 * time.Second}
	for _, tc := range []struct {
		method, body string
		sends        int64
	}{
		{"POST", "", 1},
		{"POST", "x", 1},
		{"PUT", "x", 1},
		{"GET", "", 2},
		{"PUT", "", 2},
	} {
		drops.Store(0)
		// Warm a pooled connection for the request to be sent on.
		if resp, _ := f.do(t, "GET", "app.test", "/warm", nil); resp.StatusCode != 200 {
			t.Fatalf("warm-up: %d", resp.StatusCode)
		}
		var body io.Reader
		if tc.body != "" {
			body = strings.NewReader(tc.body)
		}
		// A replay of a body already read would wait for the client
		// forever: the timeout turns that into a failure.
		req, _ := http.NewRequest(tc.method, f.url+"/drop", body)
		req.Host = "app.test"
		status := 0
		if resp, err := client.Do(req); err == nil {
			status = resp.StatusCode
			resp.Body.Close()
		}
		want := http.StatusBadGateway
		if tc.sends > 1 {
			want = http.StatusOK
		}
		if n := drops.Load(); n != tc.sends || status != want {
			t.Errorf("%s with body %q: sent %d times, answered %d; want %d times, %d", tc.method, tc.body, n, status, tc.sends, want)
		}
	}
}

// Transfer codings other than a single chunked are net/http's to answer
// (501): the data path never reads such a body as chunked.
func TestUnsupportedTransferEncodingIsNotForwarded(t *testing.T) {
	f := newFixture(t)
	b := newBackend(t, "echo", nil)
	f.route(t, "app.test", b)
	for _, te := range []string{"gzip", "gzip, chunked", "chunked\r\nTransfer-Encoding: chunked"} {
		c := dialRaw(t, f.addr)
		c.send(t, "POST / HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: "+te+"\r\n\r\n0\r\n\r\n")
		if resp, body := c.read(t, "POST"); resp.StatusCode != http.StatusNotImplemented {
			t.Errorf("Transfer-Encoding %q: %d %q, want 501", te, resp.StatusCode, body)
		}
	}
	if n := b.hits.Load(); n != 0 {
		t.Fatalf("backend got %d requests", n)
	}
}
