package runtime

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

	"github.com/velocity-ci/velocity/internal/proc"
)

// hostModeVar makes the test binary a Velocity stand-in (hostMain) that a
// test can kill with SIGKILL, when no code of ours runs.
const hostModeVar = "RUNTIME_TEST_HOST_DIR"

// hostMain starts one instance whose command leaves a setsid process
// behind (its pid in stray.pid of the release directory), and waits to be
// killed.
func hostMain() int {
	l, err := NewLocal(Config{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	_, err = l.Start(context.Background(), Spec{
		Service: "host", Dir: os.Getenv(hostModeVar), Env: []string{"PATH=" + os.Getenv("PATH")},
		Command: `setsid sleep 1000 & echo $! > stray.pid.tmp; mv stray.pid.tmp stray.pid; exec sleep 1000`,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	time.Sleep(time.Hour)
	return 0
}

// When Velocity is killed with SIGKILL, the processes its instances
// started outside their process groups die too.
func TestStraysDieWithVelocity(t *testing.T) {
	dir := t.TempDir()
	host := exec.Command(os.Args[0], "-test.run=^$")
	host.Env = append(os.Environ(), hostModeVar+"="+dir)
	host.Stdout, host.Stderr = t.Output(), t.Output()
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	defer host.Process.Kill()
	var stray int
	waitFor(t, 10*time.Second, "the stray's pid", func() bool {
		b, err := os.ReadFile(filepath.Join(dir, "stray.pid"))
		stray, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil && stray > 0
	})
	if gone(stray) {
		t.Fatalf("stray %d is not running", stray)
	}
	if err := host.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	host.Wait()
	waitFor(t, 10*time.Second, fmt.Sprintf("stray %d to die with its Velocity", stray), func() bool { return gone(stray) })
}

// A process started with setsid leaves the instance's process group, so
// kill(-pgid) misses it; the supervisor must still kill it when the
// instance stops, or it outlives every release.
func TestStopKillsProcessesOutsideTheGroup(t *testing.T) {
	l := newLocal(t, Config{})
	inst := start(t, l, serverSpec(t, `setsid sleep 1000 & echo "stray pid $!"; exec "$SERVER"`))
	waitServing(t, inst)
	var pids []int
	waitFor(t, 5*time.Second, "the stray's pid", func() bool { pids = pidsIn(inst.LastLines(10), "stray"); return len(pids) > 0 })
	if len(pids) != 1 || gone(pids[0]) {
		t.Fatalf("no running stray in %q", inst.LastLines(10))
	}
	if _, pgrp, _ := proc.Stat(pids[0]); pgrp == pidOf(inst) {
		t.Fatalf("stray %d is still in the instance's group: the test proves nothing", pids[0])
	}
	stop(t, inst)
	if !gone(pids[0]) {
		t.Errorf("stray pid %d outlived the instance", pids[0])
	}
}

// A crash kills what the crashed process left outside its group before
// the restart, as it does with what it left inside.
func TestCrashKillsProcessesOutsideTheGroup(t *testing.T) {
	l := newLocal(t, Config{})
	s := serverSpec(t, `setsid sleep 1000 & echo "stray pid $!"; exec "$SERVER"`)
	s.Restart = RestartPolicy{Backoff: 10 * time.Millisecond}
	inst := start(t, l, s)
	waitServing(t, inst)
	var first []int
	waitFor(t, 5*time.Second, "the stray's pid", func() bool { first = pidsIn(inst.LastLines(10), "stray"); return len(first) > 0 })
	if len(first) != 1 {
		t.Fatalf("no stray in %q", inst.LastLines(10))
	}
	if err := syscall.Kill(pidOf(inst), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the restart", func() bool { return inst.Restarts() == 1 && inst.State() == StateRunning })
	waitServing(t, inst)
	if !gone(first[0]) {
		t.Errorf("stray pid %d of the crashed process still running", first[0])
	}
	if !hasLine(inst.LastLines(30), "killed 1 process(es) instance") {
		t.Errorf("no note about the killed stray in %q", inst.LastLines(30))
	}
	var all []int
	waitFor(t, 5*time.Second, "the new stray's pid", func() bool { all = pidsIn(inst.LastLines(30), "stray"); return len(all) > 1 })
	if len(all) != 2 || gone(all[1]) {
		t.Fatalf("the restarted process's stray is not running: %q", inst.LastLines(30))
	}
	// Close (server shutdown) takes the new one.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if !gone(all[1]) {
		t.Errorf("stray pid %d outlived Close", all[1])
	}
}
