package deploy

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
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
		addr := strings.TrimPrefix(srv.URL, "http://")
		a := check(context.Background(), srv.Client(), addr, "/healthz", time.Second, [][]byte{[]byte(secret)})
		srv.Close()
		if a.status != http.StatusServiceUnavailable {
			t.Fatalf("secret at %d: status %d (%s)", at, a.status, a.err)
		}
		for n := 4; n <= len(secret); n++ {
			if strings.Contains(a.String(), secret[:n]) {
				t.Fatalf("secret at %d: the answer shows %q of it: %s", at, secret[:n], a)
			}
		}
		if at == 0 && !strings.Contains(a.String(), "***") {
			t.Errorf("the masked secret is not marked: %s", a)
		}
	}
}
