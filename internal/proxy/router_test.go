package proxy

import (
	"strings"
	"testing"
)

func TestRoutingByHost(t *testing.T) {
	f := newFixture(t)
	f.route(t, "a.test", newBackend(t, "a", nil))
	f.route(t, "B.Test", newBackend(t, "b", nil))

	for host, want := range map[string]string{
		"a.test":      "a",
		"A.TEST:8080": "a",
		"b.test":      "b",
		"b.test.":     "b",
	} {
		resp, body := f.do(t, "GET", host, "/", nil)
		if resp.StatusCode != 200 || body != want {
			t.Errorf("host %q: got %d %q, want %q", host, resp.StatusCode, body, want)
		}
	}

	f.p.RemoveRoute("A.test:80")
	resp, body := f.do(t, "GET", "a.test", "/", nil)
	if resp.StatusCode != 404 || !strings.Contains(body, "a.test") {
		t.Fatalf("after RemoveRoute: %d %q", resp.StatusCode, body)
	}
	if f.p.Route("b.test") == nil {
		t.Fatal("b.test lost its route")
	}
}

func TestNormalizeHost(t *testing.T) {
	for in, want := range map[string]string{
		"Example.COM:443": "example.com",
		"example.com":     "example.com",
		"[::1]:8080":      "::1",
		"[::1]":           "::1",
		"::1":             "::1",
		"host.":           "host",
	} {
		if got := normalizeHost(in); got != want {
			t.Errorf("normalizeHost(%q) = %q, want %q", in, got, want)
		}
	}
}
