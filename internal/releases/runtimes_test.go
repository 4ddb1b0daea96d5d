package releases

import (
	"context"
	"io"
	"net/http"
	"os/exec"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/kube"
	"github.com/velocity-ci/velocity/internal/kubetest"
	"github.com/velocity-ci/velocity/internal/netport"
	"github.com/velocity-ci/velocity/internal/runtime"
	"github.com/velocity-ci/velocity/internal/runtime/docker/containertest"
	pods "github.com/velocity-ci/velocity/internal/runtime/kube"
)

// With a cluster configured, an instance with an image runs as a pod of
// its namespace, serves on its address, keeps its image by name, and
// leaves nothing behind once the runtimes close.
func TestImageInstancesRunAsPodsWithACluster(t *testing.T) {
	config := kubetest.Config(t)
	ns := kubetest.Connect(t).Namespace(t)
	img := containertest.ServerImage(t, "../runtime/runtimetest/testserver")
	if out, err := exec.Command("bash", "../../.ci/kube/load-image", img).CombinedOutput(); err != nil {
		t.Fatalf("load %s into the cluster: %v: %s", img, err, out)
	}
	local, err := runtime.NewLocal(runtime.Config{})
	if err != nil {
		t.Fatal(err)
	}
	rts := newRuntimes(local, t.TempDir(), nil, nil, netport.Range{}, &Kubernetes{Namespace: ns, Kubeconfig: config})
	ctx := context.Background()
	if id, err := rts.ImageID(ctx, img); err != nil || id != img {
		t.Errorf("ImageID(%s) = %q, %v; want the name kept", img, id, err)
	}
	in, err := rts.Start(ctx, runtime.Spec{Service: "web", Environment: "prod", Release: "r1", Image: img,
		Env: []string{"GREETING=pod"}})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + in.Addr() + "/hello")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(body) == "hello pod" {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never answered: %v", in.Addr(), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	c, err := kube.Load(config)
	if err != nil {
		t.Fatal(err)
	}
	if objs, err := c.List(ctx, ns, "pods", pods.LabelManaged); err != nil || len(objs) != 1 {
		t.Errorf("%d pods of the instance in %s (%v), want 1", len(objs), ns, err)
	}
	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := rts.Close(cctx); err != nil {
		t.Fatal(err)
	}
	for _, res := range []string{"pods", "secrets"} {
		if objs, err := c.List(ctx, ns, res, pods.LabelManaged); err != nil || len(objs) != 0 {
			t.Errorf("after Close: %d %s left (%v)", len(objs), res, err)
		}
	}
}
