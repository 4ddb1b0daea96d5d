package e2e

import (
	"context"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/dockertest"
	"github.com/velocity-ci/velocity/internal/kube"
	"github.com/velocity-ci/velocity/internal/kubetest"
	pods "github.com/velocity-ci/velocity/internal/runtime/kube"
)

// examples/guestbook on a cluster: with VELOCITY_KUBE_NAMESPACE set, its
// image actions run as pods (the tests with the kv server as a sidecar of
// their pod), the images the run built reach the node through Velocity's
// registry, and both environments' replicas are pods behind the proxy;
// Ctrl-C deletes them.
func TestExampleGuestbookOnKubernetes(t *testing.T) {
	requireTool(t, "go")
	requireTool(t, "busybox")
	config := kubetest.Config(t)
	dockertest.Client(t)
	ns := kubetest.Connect(t).Namespace(t)
	c, err := kube.Load(config)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	dir := t.TempDir()
	copyDir(t, "../examples/guestbook", dir)
	git(t, dir, "init", "-q")
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-qm", "c")
	commit := git(t, dir, "rev-parse", "HEAD")

	cmd := e.command(dir, "run", "--approve", "--proxy-addr", "127.0.0.1:0")
	cmd.Env = append(cmd.Env, "VELOCITY_KUBE_NAMESPACE="+ns, "KUBECONFIG="+config)
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrRe := regexp.MustCompile(`serving through the proxy at (127\.0\.0\.1:\d+)`)
	var addr string
	for deadline := time.Now().Add(5 * time.Minute); addr == ""; time.Sleep(100 * time.Millisecond) {
		if m := addrRe.FindStringSubmatch(out.String()); m != nil {
			addr = m[1]
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("never served:\n%s", out)
		}
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cmd.Process.Signal(syscall.SIGINT)
			cmd.Wait()
		}
	}
	defer stop()
	for _, want := range []string{
		"[build/test] [sidecar kv]",                // the sidecar in the test's pod
		"testing against the kv server at kv:6380", // reached by name
		"staging serves the new release",
		"production/deploy succeeded",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	code, body := get(t, addr, "web.production.localhost", "/")
	if code != 200 || !strings.HasPrefix(body, "guestbook "+commit+": 0 entries") {
		t.Errorf("production answered %d %q, want the new release (commit %s)", code, body, commit)
	}
	ctx := context.Background()
	instances, err := c.List(ctx, ns, "pods", pods.LabelManaged)
	if err != nil {
		t.Fatal(err)
	}
	if len(instances) != 4 {
		t.Errorf("pods of service instances: %d, want 2 per environment", len(instances))
	}
	for _, o := range instances {
		p, err := c.GetPod(ctx, ns, o.Name)
		if err != nil {
			t.Fatal(err)
		}
		// The app's image, by digest from the loopback registry.
		if img := p.Spec.Containers[0].Image; !regexp.MustCompile(`^127\.0\.0\.1:\d+/guestbook/app@sha256:[0-9a-f]{64}$`).MatchString(img) {
			t.Errorf("pod %s runs image %q, want the built app from Velocity's registry by digest", o.Name, img)
		}
	}
	stop()
	if c := cmd.ProcessState.ExitCode(); c != 0 {
		t.Errorf("exit %d after serving, want 0:\n%s", c, out)
	}
	for _, res := range []string{"pods", "secrets"} {
		left, err := c.List(ctx, ns, res, "")
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, o := range left {
			if !strings.HasPrefix(o.Name, "default-token") {
				names = append(names, o.Name)
			}
		}
		if len(names) > 0 {
			t.Errorf("%s left after Ctrl-C: %v", res, names)
		}
	}
}
