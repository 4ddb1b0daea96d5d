package proxy

import (
	"bufio"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// hangingBackend takes requests and never answers until the test ends,
// as an instance stopped with SIGSTOP or stuck in a deadlock does.
func hangingBackend(t *testing.T, partial string) *rawBackend {
	t.Helper()
	stop := make(chan struct{})
	b := newRawBackend(t, func(w *bufio.Writer, _ *http.Request) bool {
		if partial != "" {
			_, _ = io.WriteString(w, partial)
			_ = w.Flush()
		}
		<-stop
		return false
	})
	t.Cleanup(func() { close(stop) }) // runs before the backend's own cleanup
	return b
}

func TestUpstreamNeverAnsweringIs504WithoutRetry(t *testing.T) {
	for _, via := range []front{viaServe, viaHandler} {
		t.Run(string(via), func(t *testing.T) {
			f := newFixtureWith(t, via, Options{ResponseHeaderTimeout: 300 * time.Millisecond})
			b1, b2 := hangingBackend(t, ""), hangingBackend(t, "")
			ts := f.rawRoute(t, "app.test", b1, b2)
			r := f.p.Route("app.test")

			start := time.Now()
			resp, body := f.do(t, "GET", "app.test", "/", nil)
			if resp.StatusCode != http.StatusGatewayTimeout || !strings.Contains(body, "sent no response within 300ms") {
				t.Fatalf("got %d %q, want 504 naming the timeout", resp.StatusCode, body)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
				t.Fatalf("content type %q", ct)
			}
			if resp.Header.Get(hdrRequestID) == "" {
				t.Fatal("504 without a request id")
			}
			if waited := time.Since(start); waited > 5*time.Second {
				t.Fatalf("answered after %v", waited)
			}
			// A GET that reached a target is not sent to the other one: the
			// first may be acting on it.
			if n := b1.hits.Load() + b2.hits.Load(); n != 1 {
				t.Fatalf("%d upstream requests, want 1 (no retry after a timeout)", n)
			}
			for _, tg := range ts {
				if tg.State() != StateHealthy {
					t.Fatalf("target %s is %v: a slow answer leaves it to active health checks", tg, tg.State())
				}
			}
			waitFor(t, func() bool { return r.Stats("r1", time.Hour).Requests == 1 })
			if st := r.Stats("r1", time.Hour); st.Errors != 1 {
				t.Fatalf("stats %+v: a 504 is an error", st)
			}
			want := `
# HELP velocity_proxy_requests_total Requests proxied, by response status code.
# TYPE velocity_proxy_requests_total counter
velocity_proxy_requests_total{code="504",environment="prod",release="r1",service="web"} 1
`
			if err := testutil.GatherAndCompare(f.reg, strings.NewReader(want), "velocity_proxy_requests_total"); err != nil {
				t.Fatal(err)
			}

			// The client connection is still usable after the 504.
			resp, _ = f.do(t, "GET", "app.test", "/again", nil)
			if resp.StatusCode != http.StatusGatewayTimeout {
				t.Fatalf("second request: %d", resp.StatusCode)
			}
		})
	}
}

func TestUpstreamStallingMidBodyIsFreedWhenClientLeaves(t *testing.T) {
	for _, via := range []front{viaServe, viaHandler} {
		t.Run(string(via), func(t *testing.T) {
			f := newFixtureWith(t, via, Options{ResponseHeaderTimeout: 300 * time.Millisecond})
			b := hangingBackend(t, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten..")
			f.rawRoute(t, "app.test", b)
			r := f.p.Route("app.test")

			req, _ := http.NewRequest("GET", f.url+"/", nil)
			req.Host = "app.test"
			resp, err := f.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			// The head came in time, so the header timeout does not cut
			// the body (a quiet stream is normal); what arrived is passed on.
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			buf := make([]byte, 10)
			if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "only ten.." {
				t.Fatalf("read %q: %v", buf, err)
			}
			time.Sleep(600 * time.Millisecond) // past the header timeout
			if r.Stats("r1", time.Hour).Requests != 0 {
				t.Fatal("the stalled response ended while the client was still reading")
			}
			// The client gives up: the exchange ends and the proxy lets go
			// of the upstream connection.
			resp.Body.Close()
			f.client.CloseIdleConnections()
			waitFor(t, func() bool { return r.Stats("r1", time.Hour).Requests == 1 })
		})
	}
}
