package e2e

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestSecondRunDeploysThroughTheServingRun is a new user's second
// commit: `velocity run --approve` serves production after its run, and
// another `velocity run --approve` in the same data directory, while the
// first still serves, deploys through it (its control socket) instead of
// failing to bind the proxy's port. Production answers every request
// while the new release rolls out, and the first run still stops cleanly
// on Ctrl-C, removing its socket.
func TestSecondRunDeploysThroughTheServingRun(t *testing.T) {
	requireTool(t, "go")
	requireTool(t, "curl")
	e := newEnv(t)
	dir := t.TempDir()
	copyDir(t, "../examples/hello", dir)
	git(t, dir, "init", "-q")
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-qm", "c1")

	first, out := startRun(t, e, dir, "--approve", "--proxy-addr", "127.0.0.1:0")
	defer first.Process.Kill()
	re := regexp.MustCompile(`serving through the proxy at (127\.0\.0\.1:\d+)(?s:.*)control socket (\S+)\)`)
	var m []string
	for deadline := time.Now().Add(2 * time.Minute); m == nil; time.Sleep(50 * time.Millisecond) {
		m = re.FindStringSubmatch(out.String())
		if time.Now().After(deadline) {
			t.Fatalf("the first run never served:\n%s", out)
		}
	}
	addr, sock := m[1], m[2]
	if code, body := get(t, addr, "web.production.localhost", "/"); code != 200 || !strings.HasPrefix(body, "hello from ") {
		t.Fatalf("production after the first run: %d %q", code, body)
	}

	// Requests go on without a pause while the second run deploys.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var sent int
	var failures []string
	wg.Go(func() {
		client := &http.Client{Timeout: 5 * time.Second}
		for {
			select {
			case <-stop:
				return
			default:
			}
			req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
			req.Host = "web.production.localhost"
			resp, err := client.Do(req)
			msg := ""
			if err != nil {
				msg = err.Error()
			} else {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					msg = resp.Status + " " + string(b)
				}
			}
			mu.Lock()
			sent++
			if msg != "" {
				failures = append(failures, msg)
			}
			mu.Unlock()
			time.Sleep(10 * time.Millisecond)
		}
	})

	main := filepath.Join(dir, "cmd", "hello", "main.go")
	src, err := os.ReadFile(main)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(main, append(src, []byte("\n// The second release.\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, dir, "commit", "-qam", "c2")
	commit := git(t, dir, "rev-parse", "HEAD")
	r := e.run(dir, "run", "--approve", "--proxy-addr", "127.0.0.1:0")
	close(stop)
	wg.Wait()
	if r.code != 0 {
		t.Fatalf("the second run: exit %d\n%s%s\nfirst run:\n%s", r.code, r.stdout, r.stderr, out)
	}
	if !strings.Contains(r.stdout, "deployed through velocity run ("+sock+")") || !strings.Contains(r.stdout, "production/web (release r2)") {
		t.Errorf("the second run does not say it deployed through the first:\n%s", r.stdout)
	}
	if sent < 20 || len(failures) > 0 {
		t.Errorf("%d of %d requests failed during the second deploy: %q", len(failures), sent, failures)
	}
	if code, body := get(t, addr, "web.production.localhost", "/"); code != 200 || body != "hello from "+commit+"\n" {
		t.Errorf("production after the second run: %d %q, want commit %s", code, body, commit)
	}

	first.Process.Signal(syscall.SIGINT)
	done := make(chan struct{})
	go func() { first.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("the first run did not stop after Ctrl-C:\n%s", out)
	}
	if c := first.ProcessState.ExitCode(); c != 0 {
		t.Errorf("the first run exited %d after Ctrl-C, want 0:\n%s", c, out)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("the control socket %s is left behind: %v", sock, err)
	}
}
