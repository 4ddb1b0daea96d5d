package clusterimages_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/clusterimages"
	"github.com/velocity-ci/velocity/internal/docker"
	"github.com/velocity-ci/velocity/internal/dockertest"
	"github.com/velocity-ci/velocity/internal/imagebuild"
	"github.com/velocity-ci/velocity/internal/kube"
	"github.com/velocity-ci/velocity/internal/kubetest"
	"github.com/velocity-ci/velocity/internal/registry"
)

// built builds an image as a build action does (labelled with its run)
// and returns its name and ID.
func built(t *testing.T) (string, string) {
	t.Helper()
	c := dockertest.Client(t)
	base := dockertest.Busybox(t)
	dir := t.TempDir()
	name := "clusterimages-test/app:" + strings.ReplaceAll(strings.ToLower(t.Name()), "/", "-")
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+base+"\nRUN echo built > /built\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	img, err := imagebuild.Build(context.Background(), c, imagebuild.Request{
		Context: dir, Tags: []string{name}, Labels: map[string]string{clusterimages.BuiltLabel: "1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return name, img.ID
}

func publisher(t *testing.T) (*clusterimages.Publisher, *registry.Storage) {
	t.Helper()
	st, err := registry.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	od := &registry.OnDemand{Storage: st}
	t.Cleanup(func() { od.Close() })
	return &clusterimages.Publisher{
		Storage:  func() (*registry.Storage, error) { return st, nil },
		Registry: od.Endpoint,
		Docker:   docker.Connect,
	}, st
}

// An image Velocity built, named by its ID or by its name, is pushed to
// Velocity's registry once and named there by digest with the
// registry's credential; names of images Velocity did not build stay as
// written, for the cluster to pull.
func TestBuiltImagesComeFromVelocitysRegistry(t *testing.T) {
	name, id := built(t)
	p, st := publisher(t)
	ctx := context.Background()

	byID, err := p.Pullable(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	host, rest, _ := strings.Cut(byID.Ref, "/")
	if !strings.HasPrefix(host, "127.0.0.1:") || byID.Registry != host || byID.Password == "" {
		t.Fatalf("Pullable(ID) = %+v, want a reference into the loopback registry with its credential", byID)
	}
	if !strings.HasPrefix(rest, "velocity-cluster/clusterimages-test/app@sha256:") {
		t.Errorf("Pullable(ID).Ref = %s, want the image under the cluster's repository by manifest digest", byID.Ref)
	}
	// The pods' credential pulls and cannot push.
	for method, want := range map[string]int{http.MethodGet: http.StatusOK, http.MethodPost: http.StatusUnauthorized} {
		u := "http://" + host + "/v2/"
		if method == http.MethodPost {
			u += "velocity-cluster/x/blobs/uploads/"
		}
		req, _ := http.NewRequest(method, u, nil)
		req.SetBasicAuth(byID.Username, byID.Password)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s %s with the pods' credential: %d, want %d", method, u, resp.StatusCode, want)
		}
	}
	cfg, _ := registry.ParseDigest(id)
	if _, ok, err := st.FindImage(cfg); !ok || err != nil {
		t.Fatalf("the image is not in the registry after Pullable: %v, %v", ok, err)
	}

	byName, err := p.Pullable(ctx, name)
	if err != nil || byName.Ref != byID.Ref {
		t.Errorf("Pullable(%s) = %+v, %v; want %s", name, byName, err, byID.Ref)
	}

	// Found in the registry with no engine to push from.
	noDocker := &clusterimages.Publisher{Storage: p.Storage, Registry: p.Registry}
	if again, err := noDocker.Pullable(ctx, id); err != nil || again.Ref != byID.Ref {
		t.Errorf("Pullable without Docker = %+v, %v; want %s", again, err, byID.Ref)
	}

	for _, ref := range []string{dockertest.Busybox(t), "postgres:16", "registry.example.com/team/app:1"} {
		got, err := p.Pullable(ctx, ref)
		if err != nil || got.Ref != ref || got.Registry != "" {
			t.Errorf("Pullable(%s) = %+v, %v; want it as written, without credential", ref, got, err)
		}
	}
}

// An image ID nobody holds is an error that says so, not a reference the
// cluster would fail to pull.
func TestUnknownImageIDIsAnError(t *testing.T) {
	p, _ := publisher(t)
	_, err := p.Pullable(context.Background(), "sha256:"+strings.Repeat("ab", 32))
	if err == nil || !strings.Contains(err.Error(), "neither in Velocity's registry nor in the Docker Engine") {
		t.Fatalf("Pullable(unknown ID) = %v", err)
	}
}

// The cluster's node pulls a built image from Velocity's loopback
// registry with the pull secret, and runs it.
func TestClusterPullsABuiltImage(t *testing.T) {
	kc := kubetest.Config(t)
	_, id := built(t)
	p, _ := publisher(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pull, err := p.Pullable(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	c, err := kube.Load(kc)
	if err != nil {
		t.Fatal(err)
	}
	ns := kubetest.Connect(t).Namespace(t)
	if err := c.CreateSecret(ctx, ns, pull.PullSecret(kube.ObjectMeta{Name: "pull"})); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreatePod(ctx, ns, &kube.Pod{
		Metadata: kube.ObjectMeta{Name: "built"},
		Spec: kube.PodSpec{
			RestartPolicy:    "Never",
			ImagePullSecrets: []kube.LocalObjectRef{{Name: "pull"}},
			Containers:       []kube.Container{{Name: "app", Image: pull.Ref, Command: []string{"/bin/cat", "/built"}}},
		},
	}); err != nil {
		t.Fatal(err)
	}
	var pod *kube.Pod
	for {
		if pod, err = c.GetPod(ctx, ns, "built"); err != nil {
			t.Fatal(err)
		}
		if pod.Status.Phase == "Succeeded" || pod.Status.Phase == "Failed" {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("pod of %s did not end: %+v", pull.Ref, pod.Status)
		}
		time.Sleep(200 * time.Millisecond)
	}
	logs, err := c.LogsSoFar(ctx, ns, "built", "app")
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(logs)
	logs.Close()
	if pod.Status.Phase != "Succeeded" || strings.TrimSpace(string(out)) != "built" {
		t.Fatalf("pod of %s: phase %s, output %q, want Succeeded with the image's file", pull.Ref, pod.Status.Phase, out)
	}
}
