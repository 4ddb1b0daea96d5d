package local_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/executor"
	"github.com/velocity-ci/velocity/internal/executor/executortest"
	"github.com/velocity-ci/velocity/internal/executor/local"
)

// hostDirVar makes the test binary a Velocity stand-in (hostMain) that a
// test can kill with SIGKILL, when no code of ours runs.
const hostDirVar = "LOCAL_TEST_HOST_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(hostDirVar); dir != "" {
		os.Exit(hostMain(dir))
	}
	os.Exit(m.Run())
}

// hostMain runs one step that leaves a setsid process and a double-forked
// one behind (their pids in stray.pid and daemon.pid) and blocks.
func hostMain(dir string) int {
	e, err := local.New()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	_, err = e.Run(context.Background(), executor.Step{
		Name: "host",
		Dir:  dir,
		Env:  []string{"PATH=" + os.Getenv("PATH")},
		Script: `setsid sh -c 'echo $$ > stray.tmp; mv stray.tmp stray.pid; exec sleep 1000' </dev/null >/dev/null 2>&1 &
( setsid sh -c 'echo $$ > daemon.tmp; mv daemon.tmp daemon.pid; exec sleep 1000' </dev/null >/dev/null 2>&1 & ) &
sleep 1000`,
	})
	fmt.Fprintln(os.Stderr, "step ended:", err)
	return 1
}

func waitPid(t *testing.T, path string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(path)
		if pid, _ := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
			return pid
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s never written", path)
	return 0
}

// When Velocity is killed with SIGKILL, the processes its step moved out
// of the step's process group die too: the reaper finds them by marker.
func TestEscapedProcessesDieWithVelocity(t *testing.T) {
	dir := t.TempDir()
	host := exec.Command(os.Args[0], "-test.run=^$")
	host.Env = append(os.Environ(), hostDirVar+"="+dir)
	host.Stdout, host.Stderr = t.Output(), t.Output()
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	defer host.Process.Kill()
	stray := waitPid(t, filepath.Join(dir, "stray.pid"))
	daemon := waitPid(t, filepath.Join(dir, "daemon.pid"))
	for _, pid := range []int{stray, daemon} {
		if executortest.Gone(pid) {
			t.Fatalf("process %d is not running", pid)
		}
		if g, _ := syscall.Getpgid(pid); g != pid {
			t.Fatalf("process %d is in group %d: it did not leave with setsid", pid, g)
		}
	}
	if err := host.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	host.Wait()
	executortest.WaitGone(t, 10*time.Second, stray, daemon)
}
