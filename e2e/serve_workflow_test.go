package e2e

import (
	"context"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/store/sqlite"
)

// A workflow execution whose process was killed continues when the server
// starts, without any workflow command being run.
func TestServeResumesInterruptedWorkflows(t *testing.T) {
	e := newEnv(t)
	dir := project(t, map[string]string{
		"wait.asl.json": `{"StartAt": "Nap", "States": {
			"Nap": {"Type": "Wait", "Seconds": 2, "Next": "Done"},
			"Done": {"Type": "Pass", "Result": {"woke": true}, "End": true}}}`,
	})
	cmd := e.command(dir, "workflow", "run", "wait.asl.json", "--name", "nap")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	status := func() store.ExecutionStatus {
		t.Helper()
		st, err := sqlite.Open(context.Background(), filepath.Join(e.home, "velocity.db"))
		if err != nil {
			return ""
		}
		defer st.Close()
		ex, err := st.Executions(context.Background(), store.ExecutionFilter{})
		if err != nil || len(ex) != 1 {
			return ""
		}
		return ex[0].Status
	}
	deadline := time.Now().Add(20 * time.Second)
	for status() != store.ExecutionRunning {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the execution never started running")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if s := status(); s != store.ExecutionRunning {
		t.Fatalf("the killed execution is %s, want RUNNING until something resumes it", s)
	}

	startServer(t, e)
	deadline = time.Now().Add(30 * time.Second)
	for status() != store.ExecutionSucceeded {
		if time.Now().After(deadline) {
			t.Fatalf("the server did not resume the execution: still %s", status())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
