package e2e

import (
	"context"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/velocity-ci/velocity/internal/dockertest"
	containers "github.com/velocity-ci/velocity/internal/runtime/docker"
	"github.com/velocity-ci/velocity/internal/runtime/docker/containertest"
)

// serviceImageProject deploys the image img as service web, greeting with
// greeting; run, when set, replaces the image's command.
func serviceImageProject(img, greeting string, run ...string) string {
	cmd := ""
	for _, r := range run {
		cmd = "\n    run: " + r
	}
	return `
stages:
  - name: prod
    actions:
      - { name: deploy, deploy: web, environment: prod }
services:
  web:
    image: ` + img + cmd + `
    replicas: 2
    env: { GREETING: ` + greeting + ` }
    health: { http: /hello, interval: 200ms }
    drain: 1s
    memory: 64M
environments:
  prod: {}
`
}

// ownContainers lists the containers of the data directory home.
func ownContainers(t *testing.T, c *client.Client, home string) []string {
	t.Helper()
	list, err := c.ContainerList(context.Background(), client.ContainerListOptions{All: true,
		Filters: client.Filters{}.Add("label", containers.LabelInstance)})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, ct := range list.Items {
		if strings.HasPrefix(ct.Labels[containers.LabelOwner], home) {
			ids = append(ids, ct.Labels[containers.LabelInstance]+" ("+string(ct.State)+")")
		}
	}
	return ids
}

// TestServiceImageDeploysContainersWithoutDowntime: a service with
// image: runs as 2 containers behind the proxy; a second run replaces
// them while requests keep being answered; service logs shows what the
// containers printed; and nothing of them is left once velocity run ends.
func TestServiceImageDeploysContainersWithoutDowntime(t *testing.T) {
	c := dockertest.Client(t)
	server := containertest.ServerImage(t, "../internal/runtime/runtimetest/testserver")
	// The project names a tag of the test's own, which the test moves
	// later on to show that a release keeps the image it was deployed
	// with.
	img := "velocity-test/e2e-web:" + strings.ToLower(strings.ReplaceAll(t.Name(), "_", "-"))[:40]
	if _, err := c.ImageTag(context.Background(), client.ImageTagOptions{Source: server, Target: img}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = c.ImageRemove(context.Background(), img, client.ImageRemoveOptions{})
	})
	e := newEnv(t)
	dir := project(t, map[string]string{"velocity.yml": serviceImageProject(img, "one")})
	t.Cleanup(func() {
		// Should the test fail half-way, its containers go with it.
		for _, ct := range ownContainers(t, c, e.home) {
			id, _, _ := strings.Cut(ct, " ")
			_, _ = c.ContainerRemove(context.Background(), id, client.ContainerRemoveOptions{Force: true})
		}
	})

	first, out := startRun(t, e, dir, "--proxy-addr", "127.0.0.1:0")
	defer first.Process.Kill()
	re := regexp.MustCompile(`serving through the proxy at (127\.0\.0\.1:\d+)`)
	var m []string
	for deadline := time.Now().Add(2 * time.Minute); m == nil; time.Sleep(50 * time.Millisecond) {
		m = re.FindStringSubmatch(out.String())
		if time.Now().After(deadline) {
			t.Fatalf("the run never served:\n%s", out)
		}
	}
	addr := m[1]
	const host = "web.prod.localhost"
	if code, body := get(t, addr, host, "/hello"); code != 200 || body != "hello one" {
		t.Fatalf("through the proxy: %d %q\n%s", code, body, out)
	}
	if running := ownContainers(t, c, e.home); len(running) != 2 {
		t.Fatalf("want 2 containers for 2 replicas, got %q", running)
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
			req, _ := http.NewRequest("GET", "http://"+addr+"/hello", nil)
			req.Host = host
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
			time.Sleep(5 * time.Millisecond)
		}
	})
	if err := os.WriteFile(filepath.Join(dir, "velocity.yml"), []byte(serviceImageProject(img, "two")), 0o644); err != nil {
		t.Fatal(err)
	}
	r := e.run(dir, "run", "--proxy-addr", "127.0.0.1:0")
	close(stop)
	wg.Wait()
	if r.code != 0 {
		t.Fatalf("the second run: exit %d\n%s%s\nfirst run:\n%s", r.code, r.stdout, r.stderr, out)
	}
	t.Logf("%d requests during the second deploy, %d failed", sent, len(failures))
	if sent < 20 || len(failures) > 0 {
		t.Errorf("%d of %d requests failed during the second deploy: %q", len(failures), sent, failures)
	}
	if code, body := get(t, addr, host, "/hello"); code != 200 || body != "hello two" {
		t.Errorf("after the second deploy: %d %q", code, body)
	}
	if running := ownContainers(t, c, e.home); len(running) != 2 {
		t.Errorf("want the 2 containers of the new release only, got %q", running)
	}

	// What a container prints reaches service logs.
	get(t, addr, host, "/log?line=container-says-hi")
	deadline := time.Now().Add(10 * time.Second)
	for {
		logs := e.run(dir, "service", "logs", "prod", "web")
		if logs.code == 0 && strings.Contains(logs.stdout, "container-says-hi") && strings.Contains(logs.stdout, "listening") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("service logs: exit %d, no line of the container:\n%s%s", logs.code, logs.stdout, logs.stderr)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// A release whose containers crash at start is not deployed: the
	// deploy fails quoting what the container said, and the old
	// release keeps serving.
	crash := serviceImageProject(img, "three", `'echo "fatal: cannot reach the database"; exit 3'`)
	if err := os.WriteFile(filepath.Join(dir, "velocity.yml"), []byte(crash), 0o644); err != nil {
		t.Fatal(err)
	}
	failed := e.run(dir, "run", "--proxy-addr", "127.0.0.1:0")
	if failed.code == 0 || !strings.Contains(failed.stdout+failed.stderr, "fatal: cannot reach the database") ||
		!strings.Contains(failed.stdout+failed.stderr, "exited with code 3") {
		t.Errorf("deploy of a crashing image: exit %d, want a failure quoting the container:\n%s%s", failed.code, failed.stdout, failed.stderr)
	}
	if code, body := get(t, addr, host, "/hello"); code != 200 || body != "hello two" {
		t.Errorf("after the failed deploy: %d %q, want the old release", code, body)
	}

	// The tag moves to another image (one that would not even serve);
	// a rollback to r1 still runs the image r1 was deployed with.
	if _, err := c.ImageTag(context.Background(), client.ImageTagOptions{Source: dockertest.Busybox(t), Target: img}); err != nil {
		t.Fatal(err)
	}
	if rb := e.run(dir, "rollback", "prod", "web", "--to", "r1"); rb.code != 0 {
		t.Errorf("rollback to r1: exit %d\n%s%s", rb.code, rb.stdout, rb.stderr)
	}
	if code, body := get(t, addr, host, "/hello"); code != 200 || body != "hello one" {
		t.Errorf("after the rollback to r1: %d %q", code, body)
	}

	first.Process.Signal(syscall.SIGINT)
	done := make(chan struct{})
	go func() { first.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("the run did not stop after Ctrl-C:\n%s", out)
	}
	if left := ownContainers(t, c, e.home); len(left) > 0 {
		t.Errorf("containers left after velocity run ended: %q", left)
	}
}

// TestContainersOfAKilledRunAreRemovedByTheNext: velocity run killed with
// SIGKILL cannot stop its containers; the next velocity run of the same
// data directory removes them before it deploys.
func TestContainersOfAKilledRunAreRemovedByTheNext(t *testing.T) {
	c := dockertest.Client(t)
	img := containertest.ServerImage(t, "../internal/runtime/runtimetest/testserver")
	e := newEnv(t)
	// The containers print what they got of the host's environment: only
	// what env_passthrough names, not the host's own LANG, PATH or HOME.
	yml := "env_passthrough: [PASSED_ON]\n" + serviceImageProject(img, "one", `'echo "lang=[$LANG] passed=[$PASSED_ON]"; exec /server'`)
	dir := project(t, map[string]string{"velocity.yml": yml})
	t.Cleanup(func() {
		for _, ct := range ownContainers(t, c, e.home) {
			id, _, _ := strings.Cut(ct, " ")
			_, _ = c.ContainerRemove(context.Background(), id, client.ContainerRemoveOptions{Force: true})
		}
	})
	first := e.command(dir, "run", "--proxy-addr", "127.0.0.1:0")
	first.Env = append(first.Env, "LANG=C.host-only", "PASSED_ON=yes")
	out := &strings.Builder{}
	first.Stdout, first.Stderr = out, out
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(2 * time.Minute); !strings.Contains(out.String(), "serving through the proxy"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			first.Process.Kill()
			t.Fatalf("the run never served:\n%s", out)
		}
	}
	first.Process.Kill()
	first.Wait()
	left := ownContainers(t, c, e.home)
	if len(left) != 2 {
		t.Fatalf("want the 2 containers the killed run could not stop, got %q", left)
	}
	var logs strings.Builder
	_ = filepath.WalkDir(e.home, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".log") && strings.Contains(p, filepath.Join("web", "r1", ".logs")) {
			logs.WriteString(readFile(t, p))
		}
		return nil
	})
	if strings.Count(logs.String(), "lang=[] passed=[yes]") != 2 {
		t.Errorf("want both containers to get PASSED_ON and not the host's LANG; their logs:\n%s", logs.String())
	}
	r := e.run(dir, "run", "--no-serve", "--proxy-addr", "127.0.0.1:0")
	if r.code != 0 {
		t.Fatalf("the next run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if after := ownContainers(t, c, e.home); len(after) > 0 {
		t.Errorf("containers left after the next run: %q (the killed run's were %q)", after, left)
	}
}
