package kube

import (
	"context"
	"encoding/base64"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// server starts an API server stand-in over TLS and returns a client of
// it from a kubeconfig with a bearer token.
func server(t *testing.T, h http.HandlerFunc) *Client {
	t.Helper()
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	dir := t.TempDir()
	path := filepath.Join(dir, "config")
	if err := os.WriteFile(path, []byte(`apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: `+srv.URL+`, certificate-authority-data: `+base64.StdEncoding.EncodeToString(ca)+`}
users:
- name: u
  user: {token: secret-token}
contexts:
- name: x
  context: {cluster: c, user: u}
current-context: x
`), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The token is sent, and a Status answer becomes a StatusError with the
// server's message that IsNotFound recognises.
func TestStatusError(t *testing.T) {
	c := server(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer secret-token" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"kind":"Status","message":"pods \"p\" not found","code":404}`)
	})
	_, err := c.GetPod(context.Background(), "ns", "p")
	if !IsNotFound(err) || !strings.Contains(err.Error(), `pods "p" not found`) {
		t.Fatalf("err %v", err)
	}
	if err := c.DeletePod(context.Background(), "ns", "p", 1); err != nil {
		t.Fatalf("deleting a pod already gone: %v", err)
	}
}

// An answer larger than MaxResponse is refused, not held in memory.
func TestResponseIsCapped(t *testing.T) {
	c := server(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"metadata":{"name":"`)
		io.Copy(w, io.LimitReader(zeros{}, MaxResponse))
		io.WriteString(w, `"}}`)
	})
	if _, err := c.GetPod(context.Background(), "ns", "p"); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("err %v", err)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = '0'
	}
	return len(p), nil
}

// A watch delivers each line's event until the callback has enough; the
// log of a pod is its /log subresource.
func TestWatchAndLogs(t *testing.T) {
	c := server(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/api/v1/namespaces/ns/pods" && r.URL.Query().Get("watch") == "1":
			if r.URL.Query().Get("fieldSelector") != "metadata.name=p" {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			io.WriteString(w, `{"type":"ADDED","object":{"metadata":{"name":"p","resourceVersion":"1"}}}`+"\n")
			io.WriteString(w, `{"type":"MODIFIED","object":{"metadata":{"name":"p","resourceVersion":"2"},"status":{"containerStatuses":[{"name":"step","state":{"terminated":{"exitCode":3}}}]}}}`+"\n")
		case r.URL.Path == "/api/v1/namespaces/ns/pods/p/log" && r.URL.Query().Get("follow") == "true":
			io.WriteString(w, "hello\n")
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	})
	var got []Event
	err := c.WatchPod(context.Background(), "ns", "p", "0", func(ev Event) bool {
		got = append(got, ev)
		return len(got) < 2
	})
	if err != nil || len(got) != 2 || got[1].Object.Status.ContainerStatuses[0].State.Terminated.ExitCode != 3 {
		t.Fatalf("err %v, events %+v", err, got)
	}
	body, err := c.Logs(context.Background(), "ns", "p", "step")
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	if b, _ := io.ReadAll(body); string(b) != "hello\n" {
		t.Fatalf("log %q", b)
	}
}
