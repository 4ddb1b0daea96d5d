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
