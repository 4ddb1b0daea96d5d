package e2e

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// call makes one request to the network API with token ("" sends none)
// and returns its status and body.
func call(t *testing.T, method, url, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// runFinished reads a run's server-sent events until run_finished and
// returns its status.
func runFinished(t *testing.T, url, token string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	client := &http.Client{Timeout: 60 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("events: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	event := ""
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "event: "); ok {
			event = v
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok || event != "run_finished" {
			continue
		}
		var e struct {
			RunFinished struct {
				Status string `json:"status"`
			} `json:"run_finished"`
		}
		if err := json.Unmarshal([]byte(data), &e); err != nil {
			t.Fatalf("run_finished %q: %v", data, err)
		}
		return e.RunFinished.Status
	}
	t.Fatalf("the event stream ended without run_finished (%v)", sc.Err())
	return ""
}

// TestListenServesTheAPIWithTokensAndRoles: velocity serve --listen
// serves the control socket's API on TCP, where every request needs a
// token whose role the route needs; the socket keeps needing none.
func TestListenServesTheAPIWithTokensAndRoles(t *testing.T) {
	e := newEnv(t)
	cmd := e.command(t.TempDir(), "serve", "--listen", "127.0.0.1:0", "--proxy-addr", "127.0.0.1:0")
	srv := &server{cmd: cmd, out: &output{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = srv.out, srv.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(srv.done) }()
	defer func() { cmd.Process.Kill(); <-srv.done }()
	api := srv.waitFor(t, regexp.MustCompile(`API at (http://127\.0\.0\.1:\d+)`), 20*time.Second)[1]
	srv.waitFor(t, regexp.MustCompile(`no admin token yet: make one with 'velocity token create NAME --role admin'`), time.Second)

	tokens := map[string]string{}
	for _, role := range []string{"admin", "developer", "viewer"} {
		r := e.run(t.TempDir(), "token", "create", "the-"+role, "--role", role)
		if r.code != 0 {
			t.Fatalf("token create %s: exit %d\n%s", role, r.code, r.stderr)
		}
		tokens[role] = strings.TrimSpace(r.stdout)
	}

	if code, body := call(t, "GET", api+"/v1/status", "", ""); code != 401 {
		t.Errorf("no token: %d %s", code, body)
	}
	if code, body := call(t, "GET", api+"/v1/status", "vel_not-a-token", ""); code != 401 {
		t.Errorf("a wrong token: %d %s", code, body)
	}
	if code, body := call(t, "GET", api+"/v1/status", tokens["viewer"], ""); code != 200 || !strings.Contains(body, `"host":"velocity serve"`) {
		t.Errorf("viewer GET /v1/status: %d %s", code, body)
	}

	dir := project(t, map[string]string{
		"velocity.yml": `
name: over-the-network
stages:
  - name: build
    actions:
      - { name: hello, run: "echo hello" }
`,
	})
	gitProject(t, dir)
	start, _ := json.Marshal(map[string]any{"dir": dir, "jobs": 1})
	if code, body := call(t, "POST", api+"/api/v1/runs", tokens["viewer"], string(start)); code != 403 {
		t.Errorf("viewer POST /api/v1/runs: %d %s", code, body)
	}
	code, body := call(t, "POST", api+"/api/v1/runs", tokens["developer"], string(start))
	if code != 201 {
		t.Fatalf("developer POST /api/v1/runs: %d %s", code, body)
	}
	var started struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal([]byte(body), &started); err != nil || started.ID == 0 {
		t.Fatalf("started run %q: %v", body, err)
	}
	if status := runFinished(t, api+"/api/v1/runs/"+strconv.FormatInt(started.ID, 10)+"/events", tokens["viewer"]); status != "succeeded" {
		t.Errorf("the run over the network finished %q", status)
	}

	// The control socket still needs no token: the command line uses it.
	if r := e.run(t.TempDir(), "service", "status"); r.code != 0 {
		t.Errorf("velocity service status through the socket: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	if code, body := call(t, "POST", api+"/v1/shutdown", tokens["developer"], ""); code != 403 {
		t.Errorf("developer POST /v1/shutdown: %d %s", code, body)
	}
	if code, body := call(t, "POST", api+"/v1/shutdown", tokens["admin"], ""); code != 202 {
		t.Fatalf("admin POST /v1/shutdown: %d %s", code, body)
	}
	select {
	case <-srv.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("velocity serve still runs after an admin's shutdown:\n%s", srv.out)
	}
	if !strings.Contains(srv.out.String(), `status=401`) || strings.Contains(srv.out.String(), tokens["viewer"]) {
		t.Errorf("refusals are logged, never with a secret:\n%s", srv.out)
	}
}

// TestListenOverTLSWithARatePerToken: the listener's own certificate
// serves the API over TLS; a token that sends too much is slowed with
// 429; the flags that go together are checked before anything starts.
func TestListenOverTLSWithARatePerToken(t *testing.T) {
	e := newEnv(t)
	cert, key := selfSigned(t)
	for _, args := range [][]string{
		{"serve", "--listen", "127.0.0.1:0", "--listen-tls-cert", cert},
		{"serve", "--listen-tls-cert", cert, "--listen-tls-key", key},
	} {
		if r := e.run(t.TempDir(), args...); r.code != 2 {
			t.Errorf("velocity %v: exit %d, want 2\n%s", args, r.code, r.stderr)
		}
	}
	r := e.run(t.TempDir(), "token", "create", "root", "--role", "admin")
	if r.code != 0 {
		t.Fatalf("token create: exit %d\n%s", r.code, r.stderr)
	}
	token := strings.TrimSpace(r.stdout)

	cmd := e.command(t.TempDir(), "serve", "--listen", "127.0.0.1:0", "--proxy-addr", "127.0.0.1:0",
		"--listen-tls-cert", cert, "--listen-tls-key", key)
	srv := &server{cmd: cmd, out: &output{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = srv.out, srv.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(srv.done) }()
	defer func() { cmd.Process.Kill(); <-srv.done }()
	addr := srv.waitFor(t, regexp.MustCompile(`API at https://(127\.0\.0\.1:\d+)`), 20*time.Second)[1]
	if strings.Contains(srv.out.String(), "no admin token yet") {
		t.Errorf("an admin token exists, yet the server says how to make one:\n%s", srv.out)
	}

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(readFile(t, cert)))
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	tooMany := 0
	for i := range 120 {
		req, _ := http.NewRequest("GET", "https://"+addr+"/v1/status", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET over TLS: %v", err)
		}
		resp.Body.Close()
		switch {
		case resp.StatusCode == 429 && resp.Header.Get("Retry-After") != "":
			tooMany++
		case resp.StatusCode != 200 || i < 40 && tooMany > 0:
			t.Fatalf("request %d: %d after %d refused", i, resp.StatusCode, tooMany)
		}
	}
	if tooMany == 0 {
		t.Errorf("120 requests at once from one token: none refused with 429")
	}
}
