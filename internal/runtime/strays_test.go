package runtime

import (
	"context"
	"syscall"
	"testing"
	"time"
)

// A process started with setsid leaves the instance's process group, so
// kill(-pgid) misses it; the supervisor must still kill it when the
// instance stops, or it outlives every release.
func TestStopKillsProcessesOutsideTheGroup(t *testing.T) {
	l := newLocal(t, Config{})
	inst := start(t, l, serverSpec(t, `setsid sleep 1000 & echo "stray pid $!"; exec "$SERVER"`))
	waitServing(t, inst)
	pids := pidsIn(inst.LastLines(10), "stray")
	if len(pids) != 1 || gone(pids[0]) {
		t.Fatalf("no running stray in %q", inst.LastLines(10))
	}
	if _, pgrp, _ := procStat(pids[0]); pgrp == inst.Pid() {
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
	first := pidsIn(inst.LastLines(10), "stray")
	if len(first) != 1 {
		t.Fatalf("no stray in %q", inst.LastLines(10))
	}
	if err := syscall.Kill(inst.Pid(), syscall.SIGKILL); err != nil {
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
	all := pidsIn(inst.LastLines(30), "stray")
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
