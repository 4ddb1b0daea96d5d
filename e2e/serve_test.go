package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// output collects a background command's output for polling.
type output struct {
	mu sync.Mutex
	b  strings.Builder
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// server is a `velocity serve` running in the background.
type server struct {
	cmd  *exec.Cmd
	out  *output
	addr string // the proxy's host:port
	done chan struct{}
}

func startServer(t *testing.T, e *env) *server {
	t.Helper()
	cmd := e.command(t.TempDir(), "serve", "--proxy-addr", "127.0.0.1:0")
	s := &server{cmd: cmd, out: &output{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = s.out, s.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-s.done
	})
	m := s.waitFor(t, regexp.MustCompile(`serving; proxy at http://(127\.0\.0\.1:\d+)`), 20*time.Second)
	s.addr = m[1]
	return s
}

// waitFor waits until the server's output matches re.
func (s *server) waitFor(t *testing.T, re *regexp.Regexp, timeout time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if m := re.FindStringSubmatch(s.out.String()); m != nil {
			return m
		}
		select {
		case <-s.done:
			t.Fatalf("velocity serve exited (%v):\n%s", s.cmd.ProcessState, s.out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("velocity serve never printed %q:\n%s", re, s.out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// serviceProject is a service whose release answers "release VERSION"
// from the version.txt it was built with, deployed blue-green to prod.
func serviceProject(t *testing.T) string {
	return project(t, map[string]string{
		"app.py": `import http.server, os
here = os.path.dirname(os.path.abspath(__file__))
version = open(os.path.join(here, "version.txt")).read().strip()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(("release " + version + "\n").encode())
    def log_message(self, *a): pass
print("listening", flush=True)
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
`,
		"version.txt": "one\n",
		"velocity.yml": `
stages:
  - name: build
    actions:
      - { name: package, run: "mkdir -p out && cp app.py version.txt out/", outputs: [out] }
  - name: prod
    actions:
      - { name: deploy, deploy: api, environment: prod }
      - { name: check, needs: [deploy], run: 'curl -fsS "$VELOCITY_URL/" | grep -q "^release "' }
services:
  api:
    from: package
    run: exec python3 out/app.py
    replicas: 2
    health: { http: /, interval: 200ms }
    strategy: { type: blue-green, keep_warm: 5m }
    drain: 1s
    deadline: 20s
environments:
  prod: {}
`,
	})
}

// TestServeDeployRollbackAndRestart: velocity run deploys through a
// running server and exits while the service keeps answering; a rollback
// puts the first release back from the journal; after kill -9 of the
// server, a new one brings the live release back.
func TestServeDeployRollbackAndRestart(t *testing.T) {
	requireTool(t, "python3")
	requireTool(t, "curl")
	e := newEnv(t)
	srv := startServer(t, e)
	dir := serviceProject(t)
	const host = "api.prod.localhost"

	deployVersion := func(version string, run int) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "version.txt"), []byte(version+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		r := e.run(dir, "run")
		if r.code != 0 {
			t.Fatalf("velocity run of %s: exit %d\n%s%s\nserver:\n%s", version, r.code, r.stdout, r.stderr, srv.out)
		}
		want := fmt.Sprintf("prod/api (release r%d): http://%s:", run, host)
		if !strings.Contains(r.stdout, "deployed through velocity serve") || !strings.Contains(r.stdout, want) {
			t.Errorf("velocity run does not say the server keeps %q running:\n%s", want, r.stdout)
		}
		if strings.Contains(r.stdout, "serving through the proxy") {
			t.Errorf("velocity run served in the foreground although a server runs:\n%s", r.stdout)
		}
	}
	answers := func(want string) {
		t.Helper()
		if code, body := get(t, srv.addr, host, "/"); code != 200 || body != "release "+want+"\n" {
			t.Fatalf("the service answered %d %q, want release %s\nserver:\n%s", code, body, want, srv.out)
		}
	}

	deployVersion("one", 1) // returns only after the run exited
	answers("one")
	deployVersion("two", 2)
	answers("two")

	if code, body := get(t, srv.addr, "127.0.0.1", "/metrics"); code != 200 || !strings.Contains(body, `velocity_proxy_requests_total{code="200",environment="prod",release="r2",service="api"}`) {
		t.Errorf("the server's proxy metrics: %d\n%s", code, body)
	}

	r := e.run(dir, "rollback", "prod", "api")
	if r.code != 0 || !strings.Contains(r.stdout, "release r1 serves again") || !strings.Contains(r.stdout, "nothing was started") {
		t.Fatalf("velocity rollback: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	answers("one")

	r = e.run(dir, "releases", "prod", "api")
	live := regexp.MustCompile(`(?m)^\*\s+r1\s+1\s+.*live.*rollback from r2`)
	if r.code != 0 || !live.MatchString(r.stdout) || !regexp.MustCompile(`(?m)^\s+r2\s+2\s+.*rolled-back`).MatchString(r.stdout) ||
		!regexp.MustCompile(`(?m)^\s+r1\s+1\s+.*superseded`).MatchString(r.stdout) {
		t.Errorf("velocity releases: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := e.run(dir, "service", "status", "prod", "api"); r.code != 0 || strings.Count(r.stdout, "healthy") != 2 || !strings.Contains(r.stdout, "r1 (warm: r2)") {
		t.Errorf("velocity service status: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := e.run(dir, "rollback", "prod", "api", "--to", "r7"); r.code != 2 || !strings.Contains(r.stderr, "no release r7") {
		t.Errorf("rollback to an unknown release: exit %d\n%s", r.code, r.stderr)
	}

	// kill -9: the instances die with the server (nothing is left holding
	// their ports), and the next server brings the live release back.
	srv.cmd.Process.Kill()
	<-srv.done
	if r := e.run(dir, "rollback", "prod", "api"); r.code != 1 || !strings.Contains(r.stderr, "no server is running") || !strings.Contains(r.stderr, "velocity serve") {
		t.Errorf("rollback without a server: exit %d\n%s", r.code, r.stderr)
	}
	srv = startServer(t, e)
	srv.waitFor(t, regexp.MustCompile(`prod/api: release r1 is back`), 30*time.Second)
	answers("one")

	// SIGTERM stops it gracefully, with the services.
	srv.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-srv.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("velocity serve did not stop on SIGTERM:\n%s", srv.out)
	}
	if c := srv.cmd.ProcessState.ExitCode(); c != 0 {
		t.Errorf("velocity serve exited %d after SIGTERM\n%s", c, srv.out)
	}
	if r := e.run(dir, "releases", "prod", "api"); !strings.Contains(r.stderr, "comes back when 'velocity serve' starts") {
		t.Errorf("releases without a server does not say the live release is not running:\n%s%s", r.stdout, r.stderr)
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "velocity e2e"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"*.prod.localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile
}

// The proxy of velocity serve speaks TLS with the given certificate, and
// one data directory has one server.
func TestServeTLSAndOneServerPerDataDirectory(t *testing.T) {
	requireTool(t, "python3")
	requireTool(t, "curl")
	e := newEnv(t)
	if r := e.run(t.TempDir(), "serve", "--tls-cert", "x.pem"); r.code != 2 || !strings.Contains(r.stderr, "go together") {
		t.Errorf("--tls-cert without --tls-key: exit %d\n%s", r.code, r.stderr)
	}
	cert, key := selfSigned(t)
	cmd := e.command(t.TempDir(), "serve", "--proxy-addr", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key)
	srv := &server{cmd: cmd, out: &output{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = srv.out, srv.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(srv.done) }()
	defer func() { cmd.Process.Kill(); <-srv.done }()
	addr := srv.waitFor(t, regexp.MustCompile(`proxy at https://(127\.0\.0\.1:\d+)`), 20*time.Second)[1]

	if r := e.run(t.TempDir(), "serve", "--proxy-addr", "127.0.0.1:0"); r.code != 1 || !strings.Contains(r.stderr, "already runs") {
		t.Errorf("a second server on the same data directory: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	dir := serviceProject(t)
	// The acceptance check reaches the release over TLS too; the
	// certificate is its own, hence -k.
	yml := strings.Replace(readFile(t, filepath.Join(dir, "velocity.yml")), "curl -fsS", "curl -kfsS", 1)
	if err := os.WriteFile(filepath.Join(dir, "velocity.yml"), []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := e.run(dir, "run"); r.code != 0 || !strings.Contains(r.stdout, "https://api.prod.localhost:") {
		t.Fatalf("velocity run through a TLS server: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(readFile(t, cert)))
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "api.prod.localhost"}}}
	req, _ := http.NewRequest("GET", "https://"+addr+"/", nil)
	req.Host = "api.prod.localhost"
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET over TLS: %v", err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || string(b) != "release one\n" {
		t.Errorf("over TLS: %d %q", resp.StatusCode, b)
	}
}
