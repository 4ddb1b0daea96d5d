package docker_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/velocity-ci/velocity/internal/dockertest"
	"github.com/velocity-ci/velocity/internal/executor"
	"github.com/velocity-ci/velocity/internal/executor/docker"
	"github.com/velocity-ci/velocity/internal/executor/executortest"
)

// newExecutor makes an executor whose default image is the test image.
func newExecutor(t *testing.T) *docker.Executor {
	t.Helper()
	img := dockertest.Busybox(t)
	e, err := docker.New(context.Background(), dockertest.Client(t), docker.Options{DefaultImage: img})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestConformance(t *testing.T) {
	img := dockertest.Busybox(t)
	executortest.RunWith(t, executortest.Options{
		New:   func(t *testing.T) executor.Executor { return newExecutor(t) },
		Image: img,
	})
}

// prepare prepares a run in a fresh workspace, cleaned up with the test.
func prepare(t *testing.T, e *docker.Executor) (executor.Workspace, string) {
	t.Helper()
	dir := t.TempDir()
	ws, err := e.Prepare(context.Background(), executor.Run{ID: "test", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ws.Cleanup(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return ws, dir
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

// What a step writes in the workspace belongs to Velocity's user, so a
// later host step (or the cache) can read and delete it; an explicit user
// is honoured.
func TestUserOwnsWhatStepsWrite(t *testing.T) {
	e := newExecutor(t)
	ws, dir := prepare(t, e)
	res, out := run(t, ws, executor.Step{Script: "id -u; id -g; mkdir -p d; echo x > d/f", Dir: dir})
	want := fmt.Sprintf("%d\n%d\n", os.Getuid(), os.Getgid())
	if res.ExitCode != 0 || out != want {
		t.Fatalf("exit %d, output %q, want %q", res.ExitCode, out, want)
	}
	fi, err := os.Stat(filepath.Join(dir, "d", "f"))
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != os.Getuid() || int(st.Gid) != os.Getgid() {
		t.Errorf("file owned by %d:%d, want Velocity's %d:%d", st.Uid, st.Gid, os.Getuid(), os.Getgid())
	}
	if err := os.RemoveAll(filepath.Join(dir, "d")); err != nil {
		t.Errorf("a host step cannot delete what a container step wrote: %v", err)
	}
	res, out = run(t, ws, executor.Step{Script: "id -u", Dir: dir, User: "65534"})
	if res.ExitCode != 0 || out != "65534\n" {
		t.Fatalf("user 65534: exit %d, output %q", res.ExitCode, out)
	}
}

// The image's environment does not reach the step, except PATH when the
// step sets none.
func TestImageEnvironmentIsLeftOut(t *testing.T) {
	c := dockertest.Client(t)
	base := dockertest.Busybox(t)
	ctx := context.Background()
	cr, err := c.ContainerCreate(ctx, client.ContainerCreateOptions{Config: &container.Config{Image: base, Cmd: []string{"true"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.ContainerRemove(ctx, cr.ID, client.ContainerRemoveOptions{Force: true})
	ref := "velocity-test/env:" + strings.ToLower(strconv.FormatInt(time.Now().UnixNano(), 36))
	if _, err := c.ContainerCommit(ctx, cr.ID, client.ContainerCommitOptions{Reference: ref, Changes: []string{"ENV FROM_IMAGE=yes PATH=/bin"}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.ImageRemove(ctx, ref, client.ImageRemoveOptions{Force: true}) })

	e := newExecutor(t)
	ws, dir := prepare(t, e)
	res, out := run(t, ws, executor.Step{Image: ref, Dir: dir, Env: []string{"MINE=1"},
		Script: `env | grep -E '^(FROM_IMAGE|HOSTNAME|MINE|PATH)=' | sort`})
	if res.ExitCode != 0 || out != "MINE=1\nPATH=/bin\n" {
		t.Fatalf("exit %d, output %q", res.ExitCode, out)
	}
	res, out = run(t, ws, executor.Step{Image: ref, Dir: dir, Env: []string{"PATH=/usr/bin:/bin", "FROM_IMAGE=mine"},
		Command: []string{"sh", "-c", `echo "$FROM_IMAGE $PATH"`}})
	if res.ExitCode != 0 || out != "mine /usr/bin:/bin\n" {
		t.Fatalf("exit %d, output %q", res.ExitCode, out)
	}
}

// Containers and networks of a Velocity process that is gone are removed
// when the next executor is made; those of a live one stay.
func TestLeftoversOfADeadVelocityAreRemoved(t *testing.T) {
	c := dockertest.Client(t)
	img := dockertest.Busybox(t)
	ctx := context.Background()
	host, _ := os.Hostname()
	dead := host + "/999999999/1"
	mk := func(owner string) string {
		cr, err := c.ContainerCreate(ctx, client.ContainerCreateOptions{Config: &container.Config{
			Image: img, Cmd: []string{"sleep", "100"}, Labels: map[string]string{docker.OwnerLabel: owner},
		}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.ContainerRemove(ctx, cr.ID, client.ContainerRemoveOptions{Force: true}) })
		if _, err := c.ContainerStart(ctx, cr.ID, client.ContainerStartOptions{}); err != nil {
			t.Fatal(err)
		}
		return cr.ID
	}
	gone, live := mk(dead), mk("elsewhere/1/1")
	newExecutor(t)
	if _, err := c.ContainerInspect(ctx, gone, client.ContainerInspectOptions{}); err == nil {
		t.Errorf("the container of a dead Velocity is still there")
	}
	if _, err := c.ContainerInspect(ctx, live, client.ContainerInspectOptions{}); err != nil {
		t.Errorf("a container of another host's Velocity was removed: %v", err)
	}
}

// Cleanup removes the run's network and every container of the run.
func TestCleanupLeavesNothing(t *testing.T) {
	c := dockertest.Client(t)
	e := newExecutor(t)
	dir := t.TempDir()
	ws, err := e.Prepare(context.Background(), executor.Run{ID: "clean", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	net := ws.(*docker.Workspace).Network()
	run(t, ws, executor.Step{Script: "true", Dir: dir})
	if err := ws.Cleanup(context.Background()); err != nil {
		t.Fatal(err)
	}
	f := client.Filters{}.Add("label", docker.RunLabel+"="+net)
	cs, _ := c.ContainerList(context.Background(), client.ContainerListOptions{All: true, Filters: f})
	ns, _ := c.NetworkList(context.Background(), client.NetworkListOptions{Filters: f})
	if len(cs.Items) != 0 || len(ns.Items) != 0 {
		t.Fatalf("after Cleanup: %d containers, %d networks of the run", len(cs.Items), len(ns.Items))
	}
}

// An image the engine lacks is pulled; when it cannot be (offline, or no
// such image), the step fails before it starts with an error saying so.
func TestMissingImage(t *testing.T) {
	e := newExecutor(t)
	ws, dir := prepare(t, e)
	_, err := ws.Run(context.Background(), executor.Step{Name: "s/a", Script: "true", Dir: dir, Image: "velocity-test/no-such-image:1"})
	if err == nil || !strings.Contains(err.Error(), "s/a: image velocity-test/no-such-image:1 is not on the Docker Engine and cannot be pulled: ") {
		t.Fatalf("err %v", err)
	}
}

// Limits reach the step's cgroup: the CPU quota is half the period and
// the memory limit is the one asked for (cgroup v1 or v2 files alike).
func TestLimitsReachTheCgroup(t *testing.T) {
	e := newExecutor(t)
	if !e.Capabilities().Limits {
		t.Skip("the engine does not enforce limits here (docker info)")
	}
	ws, dir := prepare(t, e)
	res, out := run(t, ws, executor.Step{Dir: dir, Limits: executor.Limits{Memory: 64 << 20, CPU: 0.5}, Script: `
if [ -f /sys/fs/cgroup/cpu.max ]; then
	read quota period < /sys/fs/cgroup/cpu.max; mem=$(cat /sys/fs/cgroup/memory.max)
else
	quota=$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us); period=$(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)
	mem=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes)
fi
echo "$((quota * 100 / period))% $mem"`})
	if res.ExitCode != 0 || out != "50% 67108864\n" {
		t.Fatalf("exit %d, output %q, want \"50%% 67108864\"", res.ExitCode, out)
	}
}
