package pods_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
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

// The pods and secrets of a Velocity of this host that is gone (killed
// with SIGKILL) are deleted when the next runtime is made; those of one
// that runs stay.
func TestLeftoversOfADeadVelocityAreDeleted(t *testing.T) {
	c, err := kube.Load(kubetest.Config(t))
	if err != nil {
		t.Fatal(err)
	}
	ns := kubetest.Connect(t).Namespace(t)
	ctx := context.Background()
	host, _ := os.Hostname()
	mk := func(name, owner string) {
		meta := kube.ObjectMeta{Name: name,
			Labels:      map[string]string{pods.LabelManaged: "1", kube.HostLabel: kube.HostHash()},
			Annotations: map[string]string{kube.OwnerAnnotation: owner}}
		if err := c.CreateSecret(ctx, ns, &kube.Secret{Metadata: meta, Data: map[string][]byte{"e0": []byte("x")}}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.CreatePod(ctx, ns, &kube.Pod{Metadata: meta, Spec: kube.PodSpec{
			Containers: []kube.Container{{Name: "app", Image: kubetest.PauseImage, ImagePullPolicy: "Never"}},
		}}); err != nil {
			t.Fatal(err)
		}
	}
	mk("dead", host+"/999999999/1")
	mk("live", "elsewhere/1/1")
	r, err := pods.New(ctx, pods.Config{Client: c, Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	for _, res := range []string{"pods", "secrets"} {
		objs, err := c.List(ctx, ns, res, pods.LabelManaged)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, o := range objs {
			names = append(names, o.Name)
		}
		if strings.Join(names, ",") != "live" {
			t.Errorf("%s after New: %q, want only the live Velocity's", res, names)
		}
		if err := c.Delete(ctx, ns, res, "live"); err != nil {
			t.Error(err)
		}
	}
}

// The instances of a service in an environment are behind a ClusterIP
// Service of their own, SERVICE-ENVIRONMENT, once their readiness probe
// (the service's health check) passes; a stopped one leaves it.
func TestEnvironmentServiceSelectsReadyInstances(t *testing.T) {
	img := serverImage(t)
	c, err := kube.Load(kubetest.Config(t))
	if err != nil {
		t.Fatal(err)
	}
	ns := kubetest.Connect(t).Namespace(t)
	ctx := context.Background()
	r, err := pods.New(ctx, pods.Config{Client: c, Namespace: ns, PullPolicy: "Never"})
	if err != nil {
		t.Fatal(err)
	}
	spec := runtime.Spec{Service: "Web", Environment: "prod", Release: "r1", Image: img,
		Health: runtime.Health{HTTP: "/hello", Interval: time.Second}}
	var started []runtime.Instance
	for range 2 {
		in, err := r.Start(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		started = append(started, in)
	}
	ready := func(want int) {
		t.Helper()
		var got, notReady int
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			e, err := c.GetEndpoints(ctx, ns, "web-prod")
			got, notReady = 0, 0
			if err == nil {
				for _, s := range e.Subsets {
					got += len(s.Addresses)
					notReady += len(s.NotReadyAddresses)
				}
			}
			if got == want && notReady == 0 {
				return
			}
		}
		t.Fatalf("Service web-prod: %d ready and %d not ready endpoints, want %d ready", got, notReady, want)
	}
	ready(2)
	if err := started[0].Stop(ctx); err != nil {
		t.Fatal(err)
	}
	ready(1)
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// The Service outlives the runtime (its name and address stay for
	// the next Velocity), which makes it follow a port that changed.
	before, err := c.GetService(ctx, ns, "web-prod")
	if err != nil {
		t.Fatalf("the Service after Close: %v", err)
	}
	again, err := pods.New(ctx, pods.Config{Client: c, Namespace: ns, PullPolicy: "Never"})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close(ctx)
	spec.Port = 9090
	if _, err := again.Start(ctx, spec); err != nil {
		t.Fatal(err)
	}
	after, err := c.GetService(ctx, ns, "web-prod")
	if err != nil {
		t.Fatal(err)
	}
	if after.Spec.ClusterIP != before.Spec.ClusterIP || len(after.Spec.Ports) != 1 || after.Spec.Ports[0].TargetPort != 9090 {
		t.Errorf("Service after a release on port 9090: %+v (before %+v); want the same address, port 9090", after.Spec, before.Spec)
	}
}
