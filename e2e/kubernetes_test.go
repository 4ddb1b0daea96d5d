package e2e

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/dockertest"
	"github.com/velocity-ci/velocity/internal/kubetest"
)

// TestActionRunsAsAPod: with VELOCITY_KUBE_NAMESPACE, an action with an
// image runs as a pod of the cluster, in the run's workspace: what it
// writes, the next action on the host reads.
func TestActionRunsAsAPod(t *testing.T) {
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
        run: |
          echo "in $KUBERNETES_NAMESPACE_CHECK pod $(hostname)"
          echo made in the pod > made.txt
        env: { KUBERNETES_NAMESPACE_CHECK: "a" }
        outputs: [made.txt]
      - name: after
        needs: [inpod]
        run: cat made.txt
`})
	cmd := e.command(dir, "run")
	cmd.Env = append(cmd.Env, "VELOCITY_KUBE_NAMESPACE="+ns, "KUBECONFIG="+config)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	for _, want := range []string{"[build/inpod] in a pod velocity-run-", "[build/after] made in the pod"} {
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
