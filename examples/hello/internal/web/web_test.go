package web

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRoutes(t *testing.T) {
	var logs bytes.Buffer
	h := New("1.2.3", slog.New(slog.NewTextHandler(&logs, nil)))
	for _, tc := range []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/", http.StatusOK, "hello from 1.2.3\n"},
		{"GET", "/healthz", http.StatusOK, "ok"},
		{"GET", "/nope", http.StatusNotFound, "404 page not found\n"},
		{"POST", "/", http.StatusMethodNotAllowed, "Method Not Allowed\n"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			res := rec.Result()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tc.status || string(body) != tc.body {
				t.Errorf("%s %s = %d %q, want %d %q", tc.method, tc.path, res.StatusCode, body, tc.status, tc.body)
			}
		})
	}
	if !strings.Contains(logs.String(), "path=/nope status=404") {
		t.Errorf("request log lacks the 404:\n%s", logs.String())
	}
}

func TestVersion(t *testing.T) {
	for _, tc := range []struct{ env, linked, want string }{
		{"", "", "dev"},
		{"", "abc123", "abc123"},
		{"2.0.0", "abc123", "2.0.0"},
		{"2.0.0", "", "2.0.0"},
	} {
		if got := Version(tc.env, tc.linked); got != tc.want {
			t.Errorf("Version(%q, %q) = %q, want %q", tc.env, tc.linked, got, tc.want)
		}
	}
}
