package kube_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/dockertest"
	"github.com/velocity-ci/velocity/internal/executor"
	"github.com/velocity-ci/velocity/internal/executor/executortest"
	"github.com/velocity-ci/velocity/internal/executor/kube"
	kubeapi "github.com/velocity-ci/velocity/internal/kube"
	"github.com/velocity-ci/velocity/internal/kubetest"
)

// image builds the busybox test image in Docker and loads it into the
// cluster's containerd (a second or two): pods cannot pull it from any
// registry.
func image(t testing.TB) string {
	t.Helper()
	kubetest.Config(t)
	ref := dockertest.Busybox(t)
	out, err := exec.Command("bash", "../../../.ci/kube/load-image", ref).CombinedOutput()
	if err != nil {
		t.Fatalf("load %s into the cluster: %v: %s", ref, err, out)
	}
	return ref
}

// newExecutor makes an executor in a namespace of the test's own, whose
// default image is img (loaded with image).
func newExecutor(t *testing.T, img string) *kube.Executor {
	t.Helper()
	c, err := kubeapi.Load(kubetest.Config(t))
	if err != nil {
		t.Fatal(err)
	}
	ns := kubetest.Connect(t).Namespace(t)
	e, err := kube.New(context.Background(), c, kube.Options{Namespace: ns, DefaultImage: img, PullPolicy: "Never"})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestConformance(t *testing.T) {
	img := image(t)
	executortest.RunWith(t, executortest.Options{
		New:   func(t *testing.T) executor.Executor { return newExecutor(t, img) },
		Image: img,
	})
}

func run(t *testing.T, ws executor.Workspace, step executor.Step) (executor.Result, string) {
	t.Helper()
	var out bytes.Buffer
	step.Output = &out
	if step.Name == "" {
		step.Name = t.Name()
	}
	res, err := ws.Run(context.Background(), step)
	if err != nil {
		t.Fatal(err)
	}
	return res, out.String()
}

// What Kubernetes and the image add to the environment does not reach
// the step; the step's variables come from a Secret, not the pod's spec,
// and Cleanup leaves neither pods nor secrets of the run.
func TestEnvironmentAndCleanup(t *testing.T) {
	e := newExecutor(t, image(t))
	dir := t.TempDir()
	ws, err := e.Prepare(context.Background(), executor.Run{ID: "Env", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	res, out := run(t, ws, executor.Step{Dir: dir, Env: []string{"PATH=/bin", "TOKEN=s3cr3t"},
		Script: `env | grep -E '^(HOSTNAME|KUBERNETES_[A-Z_]*|TOKEN|PATH)=' | sort`})
	if res.ExitCode != 0 || out != "PATH=/bin\nTOKEN=s3cr3t\n" {
		t.Fatalf("exit %d, output %q", res.ExitCode, out)
	}
	res, out = run(t, ws, executor.Step{Dir: dir, Script: "id -u; id -g", User: "65534:65533", Env: []string{"PATH=/bin"}})
	if res.ExitCode != 0 || out != "65534\n65533\n" {
		t.Fatalf("user: exit %d, output %q", res.ExitCode, out)
	}
	if _, err := ws.Run(context.Background(), executor.Step{Name: "named", Dir: dir, Script: "true", User: "nobody"}); err == nil || !strings.Contains(err.Error(), "numeric") {
		t.Fatalf("a user name: err %v", err)
	}
	if err := ws.Cleanup(context.Background()); err != nil {
		t.Fatal(err)
	}
	c, _ := kubeapi.Load(kubetest.Config(t))
	ns := e.Namespace()
	sel := kube.RunLabel + "=" + ws.(*kube.Workspace).Name()
	for _, r := range []string{"pods", "secrets"} {
		objs, err := c.List(context.Background(), ns, r, sel)
		if err != nil || len(objs) != 0 {
			t.Errorf("after Cleanup: %d %s of the run (%v)", len(objs), r, err)
		}
	}
}

// BenchmarkStep measures a step that does nothing: the executor's
// overhead per step (a Secret, a Pod created, watched, its log read, both
// deleted).
func BenchmarkStep(b *testing.B) {
	img := image(b)
	c, err := kubeapi.Load(kubetest.Config(b))
	if err != nil {
		b.Fatal(err)
	}
	ns := kubetest.Connect(b).Namespace(b)
	// VELOCITY_BENCH_LOG=1 prints where each step's time went.
	var logger *slog.Logger
	if os.Getenv("VELOCITY_BENCH_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	e, err := kube.New(context.Background(), c, kube.Options{Namespace: ns, DefaultImage: img, PullPolicy: "Never", Logger: logger, Node: os.Getenv("VELOCITY_BENCH_NODE")})
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	ws, err := e.Prepare(context.Background(), executor.Run{ID: "bench", Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	defer ws.Cleanup(context.Background())
	for b.Loop() {
		res, err := ws.Run(context.Background(), executor.Step{Name: "bench", Dir: dir, Script: benchScript, Env: benchEnv})
		if err != nil || res.ExitCode != 0 {
			b.Fatalf("%v %+v", err, res)
		}
	}
}

// benchEnv is nil (no Secret) when VELOCITY_BENCH_NOENV is set.
var benchEnv = func() []string {
	if os.Getenv("VELOCITY_BENCH_NOENV") != "" {
		return nil
	}
	return []string{"PATH=/bin"}
}()

// benchScript is the benchmark's step: VELOCITY_BENCH_SCRIPT, or true.
var benchScript = func() string {
	if s := os.Getenv("VELOCITY_BENCH_SCRIPT"); s != "" {
		return s
	}
	return "true"
}()

// The pods and secrets of a Velocity of this host that is gone are
// deleted when the next executor is made; those of a live one stay.
func TestLeftoversOfADeadVelocityAreDeleted(t *testing.T) {
	c, err := kubeapi.Load(kubetest.Config(t))
	if err != nil {
		t.Fatal(err)
	}
	ns := kubetest.Connect(t).Namespace(t)
	host, _ := os.Hostname()
	labels := map[string]string{kube.HostLabel: kubeapi.HostHash()}
	ctx := context.Background()
	mk := func(name, owner string) {
		meta := kubeapi.ObjectMeta{Name: name, Labels: labels, Annotations: map[string]string{kube.OwnerAnnotation: owner}}
		if err := c.CreateSecret(ctx, ns, &kubeapi.Secret{Metadata: meta, Data: map[string][]byte{"e0": []byte("x")}}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.CreatePod(ctx, ns, &kubeapi.Pod{Metadata: meta, Spec: kubeapi.PodSpec{
			Containers: []kubeapi.Container{{Name: "step", Image: kubetest.PauseImage, ImagePullPolicy: "Never"}},
		}}); err != nil {
			t.Fatal(err)
		}
	}
	mk("dead", host+"/999999999/1")
	mk("live", "elsewhere/1/1")
	if _, err := kube.New(ctx, c, kube.Options{Namespace: ns}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"pods", "secrets"} {
		objs, err := c.List(ctx, ns, r, "")
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, o := range objs {
			names = append(names, o.Name)
		}
		if strings.Join(names, ",") != "live" {
			t.Errorf("%s after New: %q, want only the live Velocity's", r, names)
		}
	}
}
