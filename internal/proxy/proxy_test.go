package proxy

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// backend is a real upstream server that counts its requests.
type backend struct {
	*httptest.Server
	name string
	hits atomic.Int64
}

// newBackend starts an upstream answering with its name, or with h.
func newBackend(t testing.TB, name string, h http.HandlerFunc) *backend {
	t.Helper()
	b := &backend{name: name}
	if h == nil {
		h = func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, name) }
	}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(b.Close)
	return b
}

type fixture struct {
	p      *Proxy
	reg    *prometheus.Registry
	url    string // http://host:port of the proxy
	addr   string
	client *http.Client
}

// front is how a fixture serves its proxy.
type front string

const (
	// viaServe is the proxy's own data path, as velocity serves it.
	viaServe front = "Serve"
	// viaHandler is net/http with the proxy as its Handler, as
	// internal/deploy's tests and handed-off connections use it.
	viaHandler front = "ServeHTTP"
)

func newFixture(t testing.TB) *fixture { return newFixtureVia(t, viaServe) }

func newFixtureVia(t testing.TB, via front) *fixture { return newFixtureWith(t, via, Options{}) }

// newFixtureWith serves a proxy made with opt (its Registry is the fixture's).
func newFixtureWith(t testing.TB, via front, opt Options) *fixture {
	t.Helper()
	reg := prometheus.NewRegistry()
	opt.Registry = reg
	p := New(opt)
	f := &fixture{p: p, reg: reg}
	switch via {
	case viaServe:
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		served := make(chan error, 1)
		go func() { served <- p.Serve(ln, ServeOptions{}) }()
		tr := &http.Transport{}
		t.Cleanup(func() {
			tr.CloseIdleConnections()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := p.Shutdown(ctx); err != nil {
				t.Errorf("shutdown: %v", err)
			}
			if err := <-served; !errors.Is(err, http.ErrServerClosed) {
				t.Errorf("Serve returned %v", err)
			}
		})
		f.addr, f.client = ln.Addr().String(), &http.Client{Transport: tr}
	case viaHandler:
		srv := httptest.NewServer(p)
		t.Cleanup(srv.Close)
		f.addr, f.client = srv.Listener.Addr().String(), srv.Client()
	}
	t.Cleanup(p.Close)
	f.url = "http://" + f.addr
	return f
}

// forEachFront runs test once per way of serving the proxy: both must
// behave the same.
func forEachFront(t *testing.T, test func(t *testing.T, f *fixture)) {
	for _, via := range []front{viaServe, viaHandler} {
		t.Run(string(via), func(t *testing.T) { test(t, newFixtureVia(t, via)) })
	}
}

func (f *fixture) target(t testing.TB, url string) *Target {
	t.Helper()
	tg, err := f.p.NewTarget(url)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// route serves host with one release "r1" over the given backends.
func (f *fixture) route(t testing.TB, host string, bs ...*backend) (*Route, []*Target) {
	t.Helper()
	r := f.p.NewRoute("prod", "web")
	var ts []*Target
	for _, b := range bs {
		ts = append(ts, f.target(t, b.URL))
	}
	if err := r.SetGroups([]Group{{Release: "r1", Weight: 100, Targets: ts}}); err != nil {
		t.Fatal(err)
	}
	f.p.SetRoute(host, r)
	return r, ts
}

func (f *fixture) do(t testing.TB, method, host, path string, body io.Reader) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, f.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	resp, err := f.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestUnknownHostIs404(t *testing.T) {
	forEachFront(t, func(t *testing.T, f *fixture) {
		resp, body := f.do(t, "GET", "nowhere.test", "/", nil)
		if resp.StatusCode != 404 || !strings.Contains(body, `"nowhere.test"`) {
			t.Fatalf("got %d %q", resp.StatusCode, body)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			t.Fatalf("content type %q", ct)
		}
	})
}

func TestRouteWithoutHealthyTargetIs503(t *testing.T) {
	forEachFront(t, func(t *testing.T, f *fixture) {
		_, ts := f.route(t, "app.test", newBackend(t, "a", nil))
		ts[0].MarkUnhealthy()
		resp, body := f.do(t, "GET", "app.test", "/", nil)
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "1" || !strings.Contains(body, "no healthy instance of web") {
			t.Fatalf("got %d retry-after=%q %q", resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
		if resp.Header.Get("X-Request-Id") == "" {
			t.Fatal("503 without request id")
		}
	})
}

func TestForwardedHeadersAndRequestID(t *testing.T) {
	forEachFront(t, func(t *testing.T, f *fixture) {
		b := newBackend(t, "echo", func(w http.ResponseWriter, r *http.Request) {
			_ = json.NewEncoder(w).Encode(map[string]string{
				"host": r.Host,
				"xff":  strings.Join(r.Header.Values("X-Forwarded-For"), ","),
				"xfh":  r.Header.Get("X-Forwarded-Host"),
				"xfp":  r.Header.Get("X-Forwarded-Proto"),
				"id":   r.Header.Get("X-Request-Id"),
			})
		})
		f.route(t, "app.test", b)

		req, _ := http.NewRequest("GET", f.url+"/", nil)
		req.Host = "app.test"
		req.Header.Set("X-Forwarded-For", "6.6.6.6") // a client's claim must not pass
		resp, err := f.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]string
		if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := map[string]string{"host": "app.test", "xff": "127.0.0.1", "xfh": "app.test", "xfp": "http"}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s = %q, want %q", k, got[k], v)
			}
		}
		if len(got["id"]) != 32 || resp.Header.Get("X-Request-Id") != got["id"] {
			t.Errorf("request id: backend %q, response %q", got["id"], resp.Header.Get("X-Request-Id"))
		}

		req.Header["X-Request-Id"] = []string{""} // empty: the proxy makes one
		resp, err = f.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if len(got["id"]) != 32 || resp.Header.Get("X-Request-Id") != got["id"] {
			t.Errorf("empty request id: backend %q, response %q", got["id"], resp.Header.Get("X-Request-Id"))
		}

		req.Header.Set("X-Request-Id", "given-id")
		resp, err = f.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if got["id"] != "given-id" || resp.Header.Get("X-Request-Id") != "given-id" {
			t.Errorf("given request id: backend %q, response %q", got["id"], resp.Header.Get("X-Request-Id"))
		}
	})
}

func TestKilledBackendCausesNoFailedGET(t *testing.T) {
	forEachFront(t, func(t *testing.T, f *fixture) {
		a, b := newBackend(t, "a", nil), newBackend(t, "b", nil)
		_, ts := f.route(t, "app.test", a, b)

		const workers, perWorker = 4, 150
		var failed atomic.Int64
		var done atomic.Int64
		var wg sync.WaitGroup
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range perWorker {
					req, _ := http.NewRequest("GET", f.url+"/", nil)
					req.Host = "app.test"
					resp, err := f.client.Do(req)
					if err != nil {
						failed.Add(1)
						continue
					}
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						t.Logf("status %d: %s", resp.StatusCode, body)
						failed.Add(1)
					}
					done.Add(1)
				}
			}()
		}
		for done.Load() < workers*perWorker/4 {
			time.Sleep(time.Millisecond)
		}
		a.Close() // kill one instance mid-loop
		wg.Wait()
		if n := failed.Load(); n != 0 {
			t.Fatalf("%d of %d requests failed", n, workers*perWorker)
		}
		if ts[0].State() != StateUnhealthy {
			t.Fatalf("killed target is %s", ts[0].State())
		}
		if b.hits.Load() == 0 {
			t.Fatal("survivor got no traffic")
		}
	})
}

func TestPOSTToDeadTargetIsNotRetried(t *testing.T) {
	forEachFront(t, func(t *testing.T, f *fixture) {
		dead := newBackend(t, "dead", nil)
		dead.Close()
		alive := newBackend(t, "alive", nil)
		_, ts := f.route(t, "app.test", dead, alive) // round robin starts at dead

		resp, body := f.do(t, "POST", "app.test", "/", strings.NewReader("payload"))
		if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "connection refused") {
			t.Fatalf("got %d %q", resp.StatusCode, body)
		}
		if alive.hits.Load() != 0 {
			t.Fatal("POST was retried on another target")
		}
		if ts[0].State() != StateUnhealthy {
			t.Fatal("dead target still healthy")
		}
		if resp, _ := f.do(t, "POST", "app.test", "/", strings.NewReader("payload")); resp.StatusCode != 200 {
			t.Fatalf("next POST got %d", resp.StatusCode)
		}
	})
}

func TestPUTWithUnreadBodyIsRetried(t *testing.T) {
	forEachFront(t, func(t *testing.T, f *fixture) {
		dead := newBackend(t, "dead", nil)
		dead.Close()
		alive := newBackend(t, "alive", func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			_, _ = w.Write(b)
		})
		f.route(t, "app.test", dead, alive)
		resp, body := f.do(t, "PUT", "app.test", "/", strings.NewReader("payload"))
		if resp.StatusCode != 200 || body != "payload" {
			t.Fatalf("got %d %q", resp.StatusCode, body)
		}
	})
}

func TestSSEStreamsEventByEvent(t *testing.T) {
	forEachFront(t, func(t *testing.T, f *fixture) {
		next := make(chan struct{})
		b := newBackend(t, "sse", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = io.WriteString(w, "data: one\n\n")
			w.(http.Flusher).Flush()
			select {
			case <-next:
			case <-r.Context().Done():
				return
			}
			_, _ = io.WriteString(w, "data: two\n\n")
		})
		f.route(t, "app.test", b)

		req, _ := http.NewRequest("GET", f.url+"/events", nil)
		req.Host = "app.test"
		resp, err := f.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		rd := bufio.NewReader(resp.Body)
		readEvent := func() string {
			t.Helper()
			got := make(chan string, 1)
			go func() {
				var sb strings.Builder
				for {
					line, err := rd.ReadString('\n')
					sb.WriteString(line)
					if err != nil || line == "\n" {
						break
					}
				}
				got <- sb.String()
			}()
			select {
			case s := <-got:
				return s
			case <-time.After(5 * time.Second):
				t.Fatal("event did not arrive: the proxy buffers the stream")
				return ""
			}
		}
		if e := readEvent(); e != "data: one\n\n" {
			t.Fatalf("first event %q", e)
		}
		close(next) // the backend writes the second event only now
		if e := readEvent(); e != "data: two\n\n" {
			t.Fatalf("second event %q", e)
		}
	})
}

func TestWebSocketEchoThroughProxy(t *testing.T) {
	forEachFront(t, func(t *testing.T, f *fixture) {
		b := newBackend(t, "ws", func(w http.ResponseWriter, r *http.Request) {
			if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
				http.Error(w, "want upgrade", 400)
				return
			}
			conn, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			defer conn.Close()
			_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
			_ = brw.Flush()
			_, _ = io.Copy(conn, brw) // echo until the client closes
		})
		f.route(t, "app.test", b)

		conn, err := net.Dial("tcp", f.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = fmt.Fprint(conn, "GET /ws HTTP/1.1\r\nHost: app.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
		rd := bufio.NewReader(conn)
		resp, err := http.ReadResponse(rd, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("handshake status %d", resp.StatusCode)
		}
		for _, msg := range []string{"hello", "again"} {
			if _, err := io.WriteString(conn, msg); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, len(msg))
			if _, err := io.ReadFull(rd, buf); err != nil {
				t.Fatal(err)
			}
			if string(buf) != msg {
				t.Fatalf("echo %q, want %q", buf, msg)
			}
		}
	})
}

func TestRouteSwapIsAtomicUnderLoad(t *testing.T) {
	f := newFixture(t)
	a, b := newBackend(t, "a", nil), newBackend(t, "b", nil)
	r, _ := f.route(t, "app.test", a)
	tb := f.target(t, b.URL)
	ta := r.Groups()[0].Targets[0]

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			g := []Group{{Release: "r1", Weight: 100, Targets: []*Target{ta}}}
			if i%2 == 1 {
				g = []Group{{Release: "r1", Weight: 50, Targets: []*Target{ta}}, {Release: "r2", Weight: 50, Targets: []*Target{tb}}}
			}
			if err := r.SetGroups(g); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for range 200 {
		resp, body := f.do(t, "GET", "app.test", "/", nil)
		if resp.StatusCode != 200 || (body != "a" && body != "b") {
			t.Fatalf("got %d %q", resp.StatusCode, body)
		}
	}
	close(stop)
	wg.Wait()
}

// BenchmarkProxy compares parallel GETs through the proxy with the same
// GETs sent straight to the backend; the ratio of ns/op is the overhead.
func BenchmarkProxy(b *testing.B) {
	be := newBackend(b, "ok", nil)
	f := newFixture(b)
	f.route(b, "bench.test", be)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 512, DisableCompression: true}}
	b.Cleanup(client.CloseIdleConnections)
	run := func(b *testing.B, url, host string) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				req, _ := http.NewRequest("GET", url, nil)
				req.Host = host
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
			}
		})
	}
	b.Run("direct", func(b *testing.B) { run(b, be.URL+"/", "") })
	b.Run("proxy", func(b *testing.B) { run(b, f.url+"/", "bench.test") })
}

// A stream without a Content-Length that is not SSE (a chunked long poll,
// a log tail) must also pass through chunk by chunk.
func TestChunkedStreamIsNotBuffered(t *testing.T) {
	forEachFront(t, func(t *testing.T, f *fixture) {
		next := make(chan struct{})
		b := newBackend(t, "tail", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, "line one\n")
			w.(http.Flusher).Flush()
			select {
			case <-next:
			case <-r.Context().Done():
				return
			}
			_, _ = io.WriteString(w, "line two\n")
		})
		f.route(t, "app.test", b)

		req, _ := http.NewRequest("GET", f.url+"/tail", nil)
		req.Host = "app.test"
		resp, err := f.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		got := make(chan string, 1)
		go func() {
			line, _ := bufio.NewReader(resp.Body).ReadString('\n')
			got <- line
		}()
		select {
		case line := <-got:
			if line != "line one\n" {
				t.Fatalf("first line %q", line)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("first line did not arrive: the proxy buffers the stream")
		}
		close(next)
	})
}

// Headers about one connection (hop-by-hop, and those the Connection
// header names) stop at the proxy in both directions.
func TestHopByHopHeadersStopAtTheProxy(t *testing.T) {
	forEachFront(t, func(t *testing.T, f *fixture) {
		b := newBackend(t, "hop", func(w http.ResponseWriter, r *http.Request) {
			var seen []string
			for _, h := range []string{"X-Secret", "Keep-Alive", "Proxy-Authorization", "X-Kept"} {
				if r.Header.Get(h) != "" {
					seen = append(seen, h)
				}
			}
			w.Header().Set("Connection", "X-Internal")
			w.Header().Set("X-Internal", "node-7")
			w.Header().Set("X-Public", "yes")
			_, _ = io.WriteString(w, strings.Join(seen, ","))
		})
		f.route(t, "app.test", b)
		req, _ := http.NewRequest("GET", f.url+"/", nil)
		req.Host = "app.test"
		req.Header.Set("Connection", "X-Secret")
		req.Header.Set("X-Secret", "1")
		req.Header.Set("Keep-Alive", "timeout=5")
		req.Header.Set("Proxy-Authorization", "Basic Zm9vOmJhcg==")
		req.Header.Set("X-Kept", "1")
		resp, err := f.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "X-Kept" {
			t.Errorf("backend saw %q, want only X-Kept", body)
		}
		if resp.Header.Get("X-Internal") != "" || resp.Header.Get("X-Public") != "yes" {
			t.Errorf("response headers %v", resp.Header)
		}
	})
}

// A client that leaves cancels its request upstream, whether it was still
// waiting for the answer (a long poll) or reading a quiet stream.
func TestClientLeavingCancelsUpstreamRequest(t *testing.T) {
	forEachFront(t, func(t *testing.T, f *fixture) {
		canceled := make(chan string, 2)
		b := newBackend(t, "wait", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/stream" {
				w.Header().Set("Content-Type", "text/event-stream")
				_, _ = io.WriteString(w, "data: hello\n\n")
				w.(http.Flusher).Flush()
			}
			select {
			case <-r.Context().Done():
				canceled <- r.URL.Path
			case <-time.After(10 * time.Second):
			}
		})
		r, _ := f.route(t, "app.test", b)
		for _, path := range []string{"/poll", "/stream"} {
			c, err := net.Dial("tcp", f.addr)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: app.test\r\n\r\n", path)
			if path == "/stream" {
				rd := bufio.NewReader(c)
				if resp, err := http.ReadResponse(rd, nil); err != nil || resp.StatusCode != 200 {
					t.Fatalf("stream: %v %v", resp, err)
				}
			}
			time.Sleep(700 * time.Millisecond) // past the data path's watchAfter
			_ = c.Close()
			select {
			case got := <-canceled:
				if got != path {
					t.Fatalf("canceled %s, want %s", got, path)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("%s: upstream request still running after the client left", path)
			}
		}
		waitFor(t, func() bool { return r.Stats("r1", time.Hour).Requests == 2 })
	})
}
