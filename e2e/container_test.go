package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/velocity-ci/velocity/internal/dockertest"
	dockerexec "github.com/velocity-ci/velocity/internal/executor/docker"
)

// containerProject is a project whose test action runs in an image with
// a web server sidecar in the same image, then fails or not.
func containerProject(t *testing.T, img, outcome string) string {
	return project(t, map[string]string{"velocity.yml": `
image: ` + img + `
stages:
  - name: test
    actions:
      - name: integration
        cache: false
        outputs: [report/page.txt]
        sidecars:
          - name: web
            image: ` + img + `
            port: 8080
            run: mkdir -p /www && echo "hello from the sidecar" > /www/index.html && echo serving && exec httpd -f -p "$PORT" -h /www
        run: |
          echo "sidecar at $WEB_HOST:$WEB_PORT"
          mkdir -p report
          wget -q -O report/page.txt "http://$WEB_ADDR/"
          cat report/page.txt
          test ` + outcome + ` = pass
      - name: publish
        image: host
        needs: [integration]
        run: |
          cat report/page.txt
          rm -r report
          echo cleaned up on the host
`})
}

// runPid runs velocity and returns its result with its pid, which names
// the containers it made (their owner label).
func (e *env) runPid(dir string, extra []string, args ...string) (result, int) {
	e.t.Helper()
	cmd := e.command(dir, args...)
	cmd.Env = append(cmd.Env, extra...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		e.t.Fatalf("velocity %v: %v", args, err)
	}
	return result{code: cmd.ProcessState.ExitCode(), stdout: out.String(), stderr: errb.String()}, cmd.Process.Pid
}

// leftovers lists the containers and networks a velocity process made
// that are still there.
func leftovers(t *testing.T, c *client.Client, pid int) []string {
	t.Helper()
	ctx := context.Background()
	f := client.Filters{}.Add("label", dockerexec.OwnerLabel)
	var left []string
	mine := func(owner string) bool { return strings.Contains(owner, fmt.Sprintf("/%d/", pid)) }
	cs, err := c.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range cs.Items {
		if mine(x.Labels[dockerexec.OwnerLabel]) {
			left = append(left, "container "+x.ID)
		}
	}
	ns, err := c.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range ns.Items {
		if mine(x.Labels[dockerexec.OwnerLabel]) {
			left = append(left, "network "+x.Name)
		}
	}
	return left
}

func TestContainerAction(t *testing.T) {
	c := dockertest.Client(t)
	img := dockertest.Busybox(t)
	e := newEnv(t)

	t.Run("pass", func(t *testing.T) {
		r, pid := e.runPid(containerProject(t, img, "pass"), nil, "run")
		if r.code != 0 {
			t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		for _, want := range []string{
			"[test/integration] sidecar at web:8080\n",
			"[test/integration] hello from the sidecar\n",
			// The host step reads and deletes what the container wrote.
			"[test/publish] hello from the sidecar\n",
			"[test/publish] cleaned up on the host\n",
		} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("output lacks %q:\n%s", want, r.stdout)
			}
		}
		if left := leftovers(t, c, pid); len(left) > 0 {
			t.Errorf("left behind: %v", left)
		}
	})

	t.Run("fail", func(t *testing.T) {
		r, pid := e.runPid(containerProject(t, img, "fail"), nil, "run")
		if r.code != 1 {
			t.Fatalf("exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
		}
		// The failure's log shows the sidecar's lines like a host one's.
		if !strings.Contains(r.stdout, "✗ test/integration failed: exit code 1; its log:\n  [sidecar web] serving\n") {
			t.Errorf("output:\n%s", r.stdout)
		}
		// What the action wrote stays in the kept workspace, Velocity's.
		pages, _ := filepath.Glob(filepath.Join(e.home, "workspaces", "*", "report", "page.txt"))
		if len(pages) != 1 {
			t.Fatalf("report files in the kept workspace: %v", pages)
		}
		fi, err := os.Stat(pages[0])
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != os.Getuid() {
			t.Errorf("the action's file belongs to uid %d, not Velocity's %d", st.Uid, os.Getuid())
		}
		if left := leftovers(t, c, pid); len(left) > 0 {
			t.Errorf("left behind: %v", left)
		}
	})

	t.Run("no docker", func(t *testing.T) {
		noDocker := []string{"DOCKER_HOST=unix:///nonexistent/docker.sock"}
		r, _ := e.runPid(containerProject(t, img, "pass"), noDocker, "run")
		// The sidecar is the first to need Docker.
		if r.code != 1 || !strings.Contains(r.stdout, `✗ test/integration failed: sidecar "web": runs in image `+img+`: the Docker Engine at unix:///nonexistent/docker.sock does not answer`) {
			t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		dir := project(t, map[string]string{"velocity.yml": "stages:\n  - name: s\n    actions:\n      - {name: a, image: " + img + ", run: echo in a container}\n"})
		if r, _ := e.runPid(dir, noDocker, "run"); r.code != 1 || !strings.Contains(r.stdout, "✗ s/a failed: s/a runs in image "+img+": the Docker Engine at unix:///nonexistent/docker.sock does not answer") {
			t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		// A pipeline without images never asks for Docker.
		dir = project(t, map[string]string{"velocity.yml": "stages:\n  - name: s\n    actions:\n      - {name: a, run: echo on the host}\n"})
		if r, _ := e.runPid(dir, noDocker, "run"); r.code != 0 || !strings.Contains(r.stdout, "[s/a] on the host") {
			t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})
}

// A velocity killed with SIGKILL cannot remove its containers; the next
// velocity that needs Docker does.
func TestContainerLeftoversOfAKilledVelocity(t *testing.T) {
	c := dockertest.Client(t)
	img := dockertest.Busybox(t)
	e := newEnv(t)
	dir := project(t, map[string]string{"velocity.yml": `
image: ` + img + `
stages:
  - name: s
    actions:
      - {name: slow, cache: false, run: "echo started; sleep 100"}
`})
	cmd := e.command(dir, "run")
	out := &output{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "[s/slow] started") {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the action never started:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if left := leftovers(t, c, pid); len(left) == 0 {
		t.Fatal("a killed velocity left nothing: the test shows nothing")
	}
	next := project(t, map[string]string{"velocity.yml": "image: " + img + "\nstages:\n  - name: s\n    actions:\n      - {name: a, run: 'true'}\n"})
	if r, _ := e.runPid(next, nil, "run"); r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if left := leftovers(t, c, pid); len(left) > 0 {
		t.Errorf("the killed velocity's containers and networks are still there: %v", left)
	}
}

// TestContainerActionMemoryCap: memory: caps an action's container; a
// script that needs more is killed and the run fails, while the same
// script under a roomier cap succeeds.
func TestContainerActionMemoryCap(t *testing.T) {
	dockertest.Client(t)
	img := dockertest.Busybox(t)
	e := newEnv(t)
	yml := func(memory string) string {
		return "image: " + img + `
stages:
  - name: test
    actions:
      - name: greedy
        memory: ` + memory + `
        run: dd if=/dev/zero of=/dev/null bs=48M count=1 && echo "allocated"
`
	}
	tight := e.run(project(t, map[string]string{"velocity.yml": yml("16M")}), "run")
	if tight.code != 1 || strings.Contains(tight.stdout, "[test/greedy] allocated") || !strings.Contains(tight.stdout, "out of memory") {
		t.Errorf("under 16M: exit %d, want 1 (killed)\n%s%s", tight.code, tight.stdout, tight.stderr)
	}
	roomy := e.run(project(t, map[string]string{"velocity.yml": yml("256M")}), "run")
	if roomy.code != 0 || !strings.Contains(roomy.stdout, "[test/greedy] allocated") {
		t.Errorf("under 256M: exit %d, want 0\n%s%s", roomy.code, roomy.stdout, roomy.stderr)
	}
}
