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
