package pods_test

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/kube"
	"github.com/velocity-ci/velocity/internal/kubetest"
	"github.com/velocity-ci/velocity/internal/runtime"
	"github.com/velocity-ci/velocity/internal/runtime/docker/containertest"
	pods "github.com/velocity-ci/velocity/internal/runtime/kube"
	"github.com/velocity-ci/velocity/internal/runtime/runtimetest"
)

// serverImage builds the suite's server into an image in Docker and loads
// it into the cluster's containerd: pods cannot pull it from a registry.
func serverImage(t *testing.T) string {
	t.Helper()
	kubetest.Config(t)
	img := containertest.ServerImage(t, "../runtimetest/testserver")
	out, err := exec.Command("bash", "../../../.ci/kube/load-image", img).CombinedOutput()
	if err != nil {
		t.Fatalf("load %s into the cluster: %v: %s", img, err, out)
	}
	return img
}

// newRuntime is a runtime in a namespace of the test's own, closed with
// it; it checks that Close leaves nothing of the runtime behind.
func newRuntime(t *testing.T) *pods.Runtime {
	t.Helper()
	c, err := kube.Load(kubetest.Config(t))
	if err != nil {
		t.Fatal(err)
	}
	ns := kubetest.Connect(t).Namespace(t)
	r, err := pods.New(context.Background(), pods.Config{Client: c, Namespace: ns, PullPolicy: "Never"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := r.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
		for _, res := range []string{"pods", "secrets"} {
			objs, err := c.List(ctx, ns, res, pods.LabelManaged)
			if err != nil || len(objs) != 0 {
				t.Errorf("after Close: %d %s left (%v)", len(objs), res, err)
			}
		}
	})
	return r
}

// TestConformance runs the runtime suite with its server in an image.
func TestConformance(t *testing.T) {
	img := serverImage(t)
	runtimetest.Run(t, runtimetest.Options{
		New:    func(t *testing.T) runtime.Runtime { return newRuntime(t) },
		Server: func(t *testing.T) runtime.Spec { return runtime.Spec{Image: img} },
		Images: true,
	})
}
