package cli

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/home"
	"github.com/velocity-ci/velocity/internal/server"
)

// velocity runs the command line in this process.
func velocity(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Main(context.Background(), testOptions(), args, strings.NewReader(""), &out, &errOut)
	return out.String(), errOut.String(), code
}

// TestRunOnServerShowsWhatARunHereShows: velocity run --server renders,
// from the events velocity serve streams, the same console as a run in
// the process itself, and exits the same way.
func TestRunOnServerShowsWhatARunHereShows(t *testing.T) {
	data, proj := t.TempDir(), t.TempDir()
	yml := `
name: demo
stages:
  - name: build
    actions:
      - { name: compile, run: "echo compiled; echo two" }
      - { name: flaky, needs: [compile], run: "echo trying; exit 3", retry: { attempts: 2, backoff: 10ms } }
    finally:
      - { name: tidy, run: echo tidy }
`
	if err := os.WriteFile(filepath.Join(proj, "velocity.yml"), []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--data-dir", data, "-C", proj, "run", "--progress", "plain", "--no-cache", "-j", "1"}
	here, hereErr, hereCode := velocity(t, args...)

	if _, _, code := velocity(t, append(args, "--server")...); code != ExitUsage {
		t.Errorf("--server without a server: exit %d, want %d", code, ExitUsage)
	}

	ctx := context.Background()
	h, err := home.Open(ctx, home.Config{Dir: data, Version: Version, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	svc, err := h.Runs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	(&server.Runs{Service: svc}).Register(mux)
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "{}") })
	ln, err := net.Listen("unix", h.SocketPath())
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	defer srv.Close()

	there, thereErr, thereCode := velocity(t, append(args, "--server")...)
	if thereCode != hereCode || hereCode != ExitFailed {
		t.Errorf("exit %d on the server, %d here; want %d", thereCode, hereCode, ExitFailed)
	}
	// The runs differ in number and timing only.
	norm := regexp.MustCompile(`\b(run|logs|logs/) ?[0-9]+\b|[0-9]+(\.[0-9]+)?(ms|s)\b| +`)
	same := func(s string) string { return norm.ReplaceAllString(s, "_") }
	if same(here) != same(there) {
		t.Errorf("on the server:\n%s\nhere:\n%s", there, here)
	}
	if same(hereErr) != same(thereErr) {
		t.Errorf("stderr on the server:\n%s\nhere:\n%s", thereErr, hereErr)
	}
	if !strings.Contains(there, "[build/flaky] trying") || !strings.Contains(there, "build/flaky failed") {
		t.Errorf("output:\n%s", there)
	}
}
