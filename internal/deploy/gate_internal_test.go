package deploy

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/proxy"
)

// A health endpoint that echoes a secret must not put it into the answers
// a failed deploy shows, also when the secret straddles the snippet's end.
func TestHealthAnswersMaskSecrets(t *testing.T) {
	const secret = "s3cr3t-t0ken-value"
	for _, at := range []int{0, bodySnippet - 5, bodySnippet - len(secret)} {
		body := strings.Repeat("x", at) + secret + " and more"
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(body))
		}))
		a := healthAnswer(t, srv.URL, [][]byte{[]byte(secret)})
		srv.Close()
		if !strings.Contains(a, "503 Service Unavailable") {
			t.Fatalf("secret at %d: %s", at, a)
		}
		for n := 4; n <= len(secret); n++ {
			if strings.Contains(a, secret[:n]) {
				t.Fatalf("secret at %d: the answer shows %q of it: %s", at, secret[:n], a)
			}
		}
		if at == 0 && !strings.Contains(a, "***") {
			t.Errorf("the masked secret is not marked: %s", a)
		}
	}
}

// healthAnswer runs the proxy's health check against url until it has
// answered once and returns that answer as a failed deploy shows it.
func healthAnswer(t *testing.T, url string, secrets [][]byte) string {
	t.Helper()
	target, err := proxy.New(proxy.Options{}).NewTarget(url)
	if err != nil {
		t.Fatal(err)
	}
	stop := target.StartHealthCheck(context.Background(), proxy.HealthCheck{Path: "/healthz", Interval: 50 * time.Millisecond})
	defer stop()
	as := &answers{target: target, secrets: secrets}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if l := as.list(); len(l) > 0 {
			return l[0]
		}
		if time.Now().After(deadline) {
			t.Fatal("the health check never answered")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The streak counts identical failing statuses after the start period
// only; a different status starts it again, a passing check or a
// connection error ends it.
func TestStreakOfSameFailingAnswers(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	answer := func(ms, status int) proxy.CheckResult {
		return proxy.CheckResult{At: at(ms), Path: "/healthz", Status: status}
	}
	s := &streak{countFrom: at(1000)}
	s.add([]proxy.CheckResult{answer(500, 503), answer(900, 503)}) // in the start period
	if s.count != 0 {
		t.Fatalf("answers in the start period counted: %d", s.count)
	}
	s.add([]proxy.CheckResult{answer(900, 503), answer(1100, 503), answer(1300, 503)}) // 900 seen already
	if s.count != 2 || s.since != at(1100) || s.status != 503 {
		t.Fatalf("after two: %+v", s)
	}
	s.add([]proxy.CheckResult{answer(1500, 500)})
	if s.count != 1 || s.since != at(1500) || s.status != 500 {
		t.Fatalf("a different status: %+v", s)
	}
	s.add([]proxy.CheckResult{{At: at(1700), Path: "/healthz", Err: "dial tcp: connection refused"}})
	if s.count != 0 {
		t.Fatalf("a connection error kept the streak: %+v", s)
	}
	s.add([]proxy.CheckResult{answer(1900, 503), answer(2100, 200)})
	if s.count != 0 {
		t.Fatalf("a passing check kept the streak: %+v", s)
	}
}
