package reaper_test

import (
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/reaper"
)

func start(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "100")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

func TestCloseKillsRegisteredGroupsOnly(t *testing.T) {
	r, err := reaper.Start()
	if err != nil {
		t.Fatal(err)
	}
	kept, killed := start(t), start(t)
	defer kept.Process.Kill()
	r.Add(kept.Process.Pid)
	r.Add(killed.Process.Pid)
	r.Remove(kept.Process.Pid)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- killed.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the registered group was not killed")
	}
	if err := syscall.Kill(kept.Process.Pid, 0); err != nil {
		t.Errorf("an unregistered group was killed: %v", err)
	}
}

// With every entry removed (a run that ended normally) Close kills
// nothing, whatever the blank slots the registry had.
func TestCloseWithEveryEntryRemovedKillsNothing(t *testing.T) {
	r, err := reaper.Start()
	if err != nil {
		t.Fatal(err)
	}
	a, b := start(t), start(t)
	defer a.Process.Kill()
	defer b.Process.Kill()
	r.Add(a.Process.Pid)
	r.Add(b.Process.Pid)
	if err := r.AddMarker("VELOCITY_TEST_MARKER=x"); err != nil {
		t.Fatal(err)
	}
	r.Remove(a.Process.Pid)
	r.Remove(b.Process.Pid)
	r.RemoveMarker("VELOCITY_TEST_MARKER=x")
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*exec.Cmd{a, b} {
		if err := syscall.Kill(c.Process.Pid, 0); err != nil {
			t.Errorf("an unregistered group was killed: %v", err)
		}
	}
}

// A process that left every group Velocity knows (setsid) is still killed
// through the marker in its environment; one with another marker is not.
func TestCloseKillsMarkedProcessesWhereverTheyMoved(t *testing.T) {
	r, err := reaper.Start()
	if err != nil {
		t.Fatal(err)
	}
	marked := func(entry string) *exec.Cmd {
		cmd := exec.Command("sleep", "100")
		cmd.Env = []string{entry}
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	killed, kept := marked("VELOCITY_INSTANCE=web-1"), marked("VELOCITY_INSTANCE=web-10")
	defer kept.Process.Kill()
	if err := r.AddMarker("VELOCITY_INSTANCE=web-1"); err != nil {
		t.Fatal(err)
	}
	if err := r.AddMarker("VELOCITY_INSTANCE=two words"); err == nil {
		t.Error("a marker with a space was accepted")
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- killed.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the marked process was not killed")
	}
	if err := syscall.Kill(kept.Process.Pid, 0); err != nil {
		t.Errorf("a process with another marker was killed: %v", err)
	}
}

// A slot freed by Remove is taken by the next entry: the new entry is
// killed, the removed one is not, whichever order they were written in.
func TestRemovedEntryFreesItsSlotForTheNext(t *testing.T) {
	r, err := reaper.Start()
	if err != nil {
		t.Fatal(err)
	}
	kept, killed := start(t), start(t)
	defer kept.Process.Kill()
	for i := 0; i < 3; i++ {
		r.Add(kept.Process.Pid)
		r.Remove(kept.Process.Pid)
	}
	r.Add(killed.Process.Pid)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- killed.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the group registered last was not killed")
	}
	if err := syscall.Kill(kept.Process.Pid, 0); err != nil {
		t.Errorf("a removed group was killed: %v", err)
	}
}
