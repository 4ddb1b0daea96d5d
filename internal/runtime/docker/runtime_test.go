package containers_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/velocity-ci/velocity/internal/dockertest"
	"github.com/velocity-ci/velocity/internal/runtime"
	containers "github.com/velocity-ci/velocity/internal/runtime/docker"
)

func start(t *testing.T, r *containers.Runtime, s runtime.Spec) runtime.Instance {
	t.Helper()
	s.Service, s.Environment = "web", "test"
	if s.StopGrace == 0 {
		s.StopGrace = time.Second // sleep as pid 1 ignores SIGTERM
	}
	in, err := r.Start(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = in.Stop(ctx)
	})
	return in
}

func waitLine(t *testing.T, in runtime.Instance, want string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(strings.Join(in.LastLines(200), "\n"), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the log:\n%s", want, strings.Join(in.LastLines(50), "\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A Command is run by the image's shell with $PORT the port inside the
// container (Spec.Port, else 8080), and Addr reaches it.
func TestCommandRunsInTheImageShell(t *testing.T) {
	r := newRuntime(t)
	in := start(t, r, runtime.Spec{Image: dockertest.Busybox(t), Env: []string{"WHO=busybox"}, Port: 9000,
		Command: `echo "$WHO on $PORT"; exec httpd -f -p "$PORT" -h /tmp`})
	waitLine(t, in, "busybox on 9000")
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", in.Addr(), time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not accept connections: %v", in.Addr(), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Memory and CPU limits reach the container's cgroup, and a container
// that exceeds its memory is reported as such.
func TestLimits(t *testing.T) {
	r := newRuntime(t)
	if ok, note := r.Limits(); !ok || note == "" {
		t.Errorf("Limits() = %v, %q", ok, note)
	}
	img := dockertest.Busybox(t)
	in := start(t, r, runtime.Spec{Image: img, Memory: 64 << 20, CPU: 0.5,
		Command: `cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max; exec sleep 1000`})
	waitLine(t, in, "67108864")
	waitLine(t, in, "50000")

	hog := start(t, r, runtime.Spec{Image: img, Memory: 16 << 20,
		Restart: runtime.RestartPolicy{Backoff: time.Hour},
		Command: `echo hogging; exec dd if=/dev/zero of=/dev/null bs=64M count=1`})
	deadline := time.Now().Add(20 * time.Second)
	for {
		if n, last := hog.Exits(); n > 0 {
			if !strings.Contains(last, "memory limit") {
				t.Errorf("exit of a container over its memory limit said %q", last)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a container allocating 64 MiB under a 16 MiB limit was not killed:\n%s", strings.Join(hog.LastLines(20), "\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The containers of a Velocity that died are removed by the next one of
// the same owner; a live Velocity's are left alone.
func TestLeftoversAreRemoved(t *testing.T) {
	c := dockertest.Client(t)
	img := dockertest.Busybox(t)
	owner := "test-" + t.Name()
	create := func(name, pid string) string {
		res, err := c.ContainerCreate(context.Background(), client.ContainerCreateOptions{
			Name: name,
			Config: &container.Config{Image: img, Cmd: []string{"sleep", "1000"}, Labels: map[string]string{
				containers.LabelInstance: name, containers.LabelOwner: owner, containers.LabelPID: pid}},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_, _ = c.ContainerRemove(context.Background(), res.ID, client.ContainerRemoveOptions{Force: true})
		})
		if _, err := c.ContainerStart(context.Background(), res.ID, client.ContainerStartOptions{}); err != nil {
			t.Fatal(err)
		}
		return res.ID
	}
	dead := create("velocity-leftover-dead", "999999999")
	live := create("velocity-leftover-live", "1")
	r, err := containers.New(context.Background(), containers.Config{Client: c, Owner: owner})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(context.Background())
	if _, err := c.ContainerInspect(context.Background(), dead, client.ContainerInspectOptions{}); err == nil {
		t.Error("the container of a dead Velocity is still there")
	}
	if _, err := c.ContainerInspect(context.Background(), live, client.ContainerInspectOptions{}); err != nil {
		t.Errorf("the container of a live Velocity was removed: %v", err)
	}
}

// Each run of a restarted container adds its own output to the log, once:
// the engine's log spans the runs, Velocity's must not repeat them.
func TestRestartsLogEachRunOnce(t *testing.T) {
	r := newRuntime(t)
	in := start(t, r, runtime.Spec{Image: dockertest.Busybox(t),
		Restart: runtime.RestartPolicy{Backoff: 50 * time.Millisecond, MaxBackoff: 50 * time.Millisecond},
		Command: `echo started; sleep 0.2; exit 3`})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if n, last := in.Exits(); n >= 3 {
			if last != "exited with code 3" {
				t.Errorf("last exit %q", last)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no 3 exits: %d\n%s", in.Restarts(), strings.Join(in.LastLines(50), "\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := in.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	lines := in.LastLines(200)
	started := 0
	for _, l := range lines {
		if l == "started" {
			started++
		}
	}
	if runs := in.Restarts() + 1; started != runs {
		t.Errorf("%d runs logged %d started lines:\n%s", runs, started, strings.Join(lines, "\n"))
	}
}
