package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// HealthCheck configures active checks of a target.
type HealthCheck struct {
	// Path is requested with GET; 2xx and 3xx pass. Empty means a plain TCP
	// connect, for services without an HTTP health endpoint.
	Path string
	// Interval between checks; default 1s.
	Interval time.Duration
	// Timeout of one check; default the interval, at most 5s.
	Timeout time.Duration
	// Healthy consecutive passes make an unhealthy target healthy; default 1.
	Healthy int
	// Unhealthy consecutive failures make a healthy target unhealthy; default 3.
	Unhealthy int
}

func (hc HealthCheck) withDefaults() HealthCheck {
	if hc.Interval <= 0 {
		hc.Interval = time.Second
	}
	if hc.Timeout <= 0 {
		hc.Timeout = min(hc.Interval, 5*time.Second)
	}
	if hc.Healthy <= 0 {
		hc.Healthy = 1
	}
	if hc.Unhealthy <= 0 {
		hc.Unhealthy = 3
	}
	return hc
}

// CheckResult is the outcome of one active health check.
type CheckResult struct {
	At       time.Time
	Duration time.Duration
	Path     string // empty for a TCP check
	Status   int    // HTTP status; 0 for TCP checks and transport errors
	Err      string // transport error text, empty when a response or connection was had
	// Body is the start of the response body (at most CheckBodyBytes):
	// it usually says why a check failed ("db not ready").
	Body []byte
}

// checkError says why a check got no answer, naming the timeout rather
// than Go's "context deadline exceeded".
func checkError(err error, timeout time.Duration) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Sprintf("no answer within the health check timeout of %v", timeout)
	}
	return err.Error()
}

// CheckBodyBytes is how much of a health check's response body is kept.
const CheckBodyBytes = 512

// OK reports whether the check passed.
func (r CheckResult) OK() bool {
	if r.Err != "" {
		return false
	}
	return r.Path == "" || (r.Status >= 200 && r.Status < 400)
}

// String reads like "GET /healthz: 503 Service Unavailable" or
// "dial tcp 127.0.0.1:9: connect: connection refused", for deploy errors.
func (r CheckResult) String() string {
	if r.Err != "" {
		return r.Err
	}
	if r.Path == "" {
		return "tcp connect: ok"
	}
	return fmt.Sprintf("GET %s: %d %s", r.Path, r.Status, http.StatusText(r.Status))
}

// StartHealthCheck runs active checks in a goroutine until stop is called
// or ctx ends. The target is taken out of rotation until it passes
// hc.Healthy checks, because an instance being checked has not yet been
// seen to answer. A draining target is left alone.
func (t *Target) StartHealthCheck(ctx context.Context, hc HealthCheck) (stop func()) {
	hc = hc.withDefaults()
	t.MarkUnhealthy()
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t.runHealthCheck(ctx, hc)
	}()
	return func() {
		cancel()
		<-done
	}
}

func (t *Target) runHealthCheck(ctx context.Context, hc HealthCheck) {
	// A client of its own without keep-alives: every check dials, so a
	// listener that stopped accepting fails the check even while an old
	// connection would still answer, and checks never queue behind traffic.
	tr := &http.Transport{DisableKeepAlives: true, Proxy: nil}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	var passes, fails int
	ticker := time.NewTicker(hc.Interval)
	defer ticker.Stop()
	for {
		res := t.check(ctx, client, hc)
		res.Duration = time.Since(res.At)
		if ctx.Err() != nil {
			return
		}
		t.mu.Lock()
		t.recent = append(t.recent, res)
		if len(t.recent) > RecentChecks {
			t.recent = t.recent[len(t.recent)-RecentChecks:]
		}
		t.mu.Unlock()
		if res.OK() {
			passes, fails = passes+1, 0
			if passes >= hc.Healthy {
				t.MarkHealthy()
			}
		} else {
			passes, fails = 0, fails+1
			if fails >= hc.Unhealthy {
				t.MarkUnhealthy()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

func (t *Target) check(ctx context.Context, client *http.Client, hc HealthCheck) CheckResult {
	ctx, cancel := context.WithTimeout(ctx, hc.Timeout)
	defer cancel()
	res := CheckResult{At: time.Now(), Path: hc.Path}
	if hc.Path == "" {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", t.url.Host)
		if err != nil {
			res.Err = checkError(err, hc.Timeout)
			return res
		}
		_ = conn.Close()
		return res
	}
	u := *t.url
	u.Path = hc.Path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		res.Err = fmt.Errorf("health check request: %w", err).Error()
		return res
	}
	resp, err := client.Do(req)
	if err != nil {
		// url.Error prefixes `Get "http://...":`; the inner error alone
		// ("dial tcp ...: connection refused") is what an operator needs.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		res.Err = checkError(err, hc.Timeout)
		return res
	}
	res.Body, _ = io.ReadAll(io.LimitReader(resp.Body, CheckBodyBytes))
	_ = resp.Body.Close()
	res.Status = resp.StatusCode
	return res
}
