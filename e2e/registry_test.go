package e2e

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/dockertest"
)

// dockerCLI runs the docker command line with its own configuration
// directory (where docker login keeps credentials), stdin as its input.
func dockerCLI(t *testing.T, config, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("docker", args...)
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+config)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestRegistryPushPullWithTokens: velocity serve --listen is a registry
// docker logs in to with an API token as its password; a developer
// pushes, the pulled image runs, a viewer cannot push, and nobody pulls
// without a token.
func TestRegistryPushPullWithTokens(t *testing.T) {
	image := dockertest.Busybox(t)
	e := newEnv(t)
	cmd := e.command(t.TempDir(), "serve", "--listen", "127.0.0.1:0", "--proxy-addr", "127.0.0.1:0", "--registry-max-blob", "10MB")
	srv := &server{cmd: cmd, out: &output{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = srv.out, srv.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(srv.done) }()
	defer func() { cmd.Process.Kill(); <-srv.done }()
	host := srv.waitFor(t, regexp.MustCompile(`API at http://(127\.0\.0\.1:\d+)`), 20*time.Second)[1]

	tokens := map[string]string{}
	for _, role := range []string{"developer", "viewer"} {
		r := e.run(t.TempDir(), "token", "create", "the-"+role, "--role", role)
		if r.code != 0 {
			t.Fatalf("token create %s: exit %d\n%s", role, r.code, r.stderr)
		}
		tokens[role] = strings.TrimSpace(r.stdout)
	}
	config := t.TempDir()
	ref := fmt.Sprintf("%s/e2e/busybox:t%d", host, time.Now().UnixNano())
	t.Cleanup(func() { dockerCLI(t, config, "", "rmi", "-f", ref) })
	mustDocker := func(stdin string, args ...string) string {
		t.Helper()
		out, err := dockerCLI(t, config, stdin, args...)
		if err != nil {
			t.Fatalf("docker %s: %v\n%s\nvelocity serve:\n%s", strings.Join(args, " "), err, out, srv.out)
		}
		return out
	}

	mustDocker(tokens["developer"], "login", host, "-u", "x", "--password-stdin")
	mustDocker("", "tag", image, ref)
	mustDocker("", "push", ref)
	mustDocker("", "rmi", ref)
	mustDocker("", "pull", ref)
	if out := mustDocker("", "run", "--rm", ref, "echo", "pulled and ran"); !strings.Contains(out, "pulled and ran") {
		t.Errorf("the pulled image printed %q", out)
	}
	if r := e.run(t.TempDir(), "registry", "ls"); r.code != 0 || !regexp.MustCompile(`e2e/busybox\s+t\d+\s+sha256:`).MatchString(r.stdout) {
		t.Errorf("velocity registry ls: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// A blob over --registry-max-blob is refused.
	big := strings.Repeat("x", 10e6+1)
	req, _ := http.NewRequest("POST", "http://"+host+"/v2/e2e/big/blobs/uploads/?digest=sha256:"+fmt.Sprintf("%x", sha256.Sum256([]byte(big))), strings.NewReader(big))
	req.SetBasicAuth("x", tokens["developer"])
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("a blob over --registry-max-blob: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	// A collection keeps what a tag names, however old.
	if r := e.run(t.TempDir(), "registry", "gc", "--grace", "1ns"); r.code != 0 || !strings.Contains(r.stdout, "removed 0 manifests") {
		t.Errorf("velocity registry gc: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	mustDocker("", "rmi", ref)

	// A viewer pulls but cannot push.
	mustDocker(tokens["viewer"], "login", host, "-u", "x", "--password-stdin")
	mustDocker("", "pull", ref)
	other := fmt.Sprintf("%s/e2e/viewer:t%d", host, time.Now().UnixNano())
	t.Cleanup(func() { dockerCLI(t, config, "", "rmi", "-f", other) })
	mustDocker("", "tag", image, other)
	if out, err := dockerCLI(t, config, "", "push", other); err == nil || !strings.Contains(out, "denied") {
		t.Errorf("a viewer pushed (%v):\n%s", err, out)
	}

	// Without a token nothing is pulled.
	mustDocker("", "logout", host)
	mustDocker("", "rmi", ref)
	if out, err := dockerCLI(t, config, "", "pull", ref); err == nil || !strings.Contains(strings.ToLower(out), "unauthorized") && !strings.Contains(out, "no basic auth credentials") {
		t.Errorf("pulled without a token (%v):\n%s", err, out)
	}
	for role, tok := range tokens {
		if strings.Contains(srv.out.String(), tok) {
			t.Errorf("velocity serve logged the %s token's secret", role)
		}
	}
}
