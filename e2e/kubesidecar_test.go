package e2e

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/dockertest"
	"github.com/velocity-ci/velocity/internal/kubetest"
)

// TestSidecarRunsInTheActionsPod: with VELOCITY_KUBE_NAMESPACE, an
// action with an image runs its sidecars with an image as containers of
// its pod, reached by name through the variables sidecars set, their
// output in the action's log; a sidecar that runs on the host is refused
// with a message saying why.
func TestSidecarRunsInTheActionsPod(t *testing.T) {
	config := kubetest.Config(t)
	ns := kubetest.Connect(t).Namespace(t)
	img := dockertest.Busybox(t)
	if out, err := exec.Command("bash", "../.ci/kube/load-image", img).CombinedOutput(); err != nil {
		t.Fatalf("load %s into the cluster: %v: %s", img, err, out)
	}
	e := newEnv(t)
	dir := project(t, map[string]string{"velocity.yml": `
stages:
  - name: build
    actions:
      - name: inpod
        image: ` + img + `
        run: wget -q -O - "http://$WEB_ADDR/"
        sidecars:
          - name: web
            image: ` + img + `
            port: 8080
            env: { WHO: sidecar }
            run: mkdir -p /www && echo "hello $WHO on $PORT" > /www/index.html && echo serving && exec httpd -f -p "$PORT" -h /www
            ready: { run: wget -q -O /dev/null "http://127.0.0.1:$PORT/" }
      - name: hostsidecar
        needs: [inpod]
        image: ` + img + `
        run: "true"
        sidecars:
          - { name: mock, run: exec sleep 600 }
`})
	cmd := e.command(dir, "run")
	cmd.Env = append(cmd.Env, "VELOCITY_KUBE_NAMESPACE="+ns, "KUBECONFIG="+config)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("run succeeded with a host sidecar:\n%s", out)
	}
	for _, want := range []string{
		"[build/inpod] [sidecar web] serving",
		"[build/inpod] hello sidecar on 8080",
		`sidecar "mock" runs on Velocity's host, which the action's pod cannot reach: give the sidecar an image`,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	var pods struct {
		Items []struct{} `json:"items"`
	}
	if err := kubetest.Connect(t).Get(t.Context(), "/api/v1/namespaces/"+ns+"/pods", &pods); err != nil || len(pods.Items) != 0 {
		t.Errorf("pods left in %s: %d (%v)", ns, len(pods.Items), err)
	}
}

// velocity serve checks the cluster at its start: a namespace that does
// not exist, or a kubeconfig it cannot read, stops it with the reason,
// rather than failing the first step with an image.
func TestServeRefusesAClusterItCannotUse(t *testing.T) {
	config := kubetest.Config(t)
	e := newEnv(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--kube-namespace", "velocity-no-such-namespace", "--kubeconfig", config}, `Kubernetes namespace velocity-no-such-namespace at https://`},
		{[]string{"--kube-namespace", "ci", "--kubeconfig", filepath.Join(t.TempDir(), "missing")}, "Kubernetes namespace ci: "},
	} {
		r := e.run(t.TempDir(), append([]string{"serve", "--proxy-addr", "127.0.0.1:0"}, tc.args...)...)
		if r.code == 0 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("serve %v: exit %d, stderr %q; want a failure saying %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}
