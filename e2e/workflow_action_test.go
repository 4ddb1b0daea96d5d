package e2e

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestWorkflowActionExample is issue 16's must-show 4: velocity run on a
// pipeline whose action starts a workflow (a Map over items, commands as
// tasks, one item retried), its states streamed into the action's log,
// the execution in velocity workflow list and history.
func TestWorkflowActionExample(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	copyDir(t, "../examples/workflow-in-pipeline", dir)
	r := e.run(dir, "run")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	log := e.run(dir, "logs", "last", "process/items").stdout
	for _, re := range []string{
		`(?m)^velocity: workflow execution 1 \(arn:aws:states:us-east-1:123456789012:execution:process:run1-process-items-1\) started$`,
		`(?m)^workflow: \d+ MapStateEntered ProcessItems$`,
		`(?m)^workflow: \d+ TaskFailed Item.Busy: try again$`,
		`(?m)^workflow: \d+ MapStateExited ProcessItems$`,
		`(?m)^workflow: \d+ PassStateExited Summary$`,
	} {
		if !regexp.MustCompile(re).MatchString(log) {
			t.Errorf("log lacks %s:\n%s", re, log)
		}
	}
	// A Retry runs the task again within its state: one entry per item.
	if n, m := strings.Count(log, "TaskStateEntered Process"), strings.Count(log, "TaskStateExited Process"); n != 3 || m != 3 {
		t.Errorf("%d task states entered and %d exited, want 3 and 3:\n%s", n, m, log)
	}
	m := regexp.MustCompile(`(?m)^velocity: workflow execution 1 SUCCEEDED, output: (.*)$`).FindStringSubmatch(log)
	if m == nil {
		t.Fatalf("no output line:\n%s", log)
	}
	var out struct {
		Batch     int
		Count     int
		Processed []struct {
			Name string
			Done bool
		}
	}
	if err := json.Unmarshal([]byte(m[1]), &out); err != nil {
		t.Fatalf("output %s: %v", m[1], err)
	}
	if out.Batch != 7 || out.Count != 3 || len(out.Processed) != 3 || out.Processed[1].Name != "flaky" || !out.Processed[1].Done {
		t.Errorf("output = %s", m[1])
	}
	list := e.run(dir, "workflow", "list")
	if !regexp.MustCompile(`(?m)^1\s+SUCCEEDED\s+process\s+run1-process-items-1\s`).MatchString(list.stdout) {
		t.Errorf("workflow list:\n%s%s", list.stdout, list.stderr)
	}
	if h := e.run(dir, "workflow", "history", "run1-process-items-1"); !strings.Contains(h.stdout, "ExecutionSucceeded") {
		t.Errorf("workflow history:\n%s%s", h.stdout, h.stderr)
	}
}

const failingWorkflow = `StartAt: Check
States:
  Check:
    Type: Task
    Resource: arn:velocity:command
    Parameters:
      Command: "echo disk full >&2; exit 3"
    End: true
`

// TestWorkflowActionFailureFailsTheAction: the action fails with the
// execution's error and cause, and what needs it does not run.
func TestWorkflowActionFailureFailsTheAction(t *testing.T) {
	e := newEnv(t)
	dir := project(t, map[string]string{
		"check.asl.yaml": failingWorkflow,
		"velocity.yml": `stages:
  - name: s
    actions:
      - name: wf
        workflow: check.asl.yaml
      - name: after
        needs: [wf]
        run: echo never
`,
	})
	r := e.run(dir, "run")
	if r.code == 0 {
		t.Fatalf("exit 0\n%s", r.stdout)
	}
	log := e.run(dir, "logs", "last", "s/wf").stdout
	for _, want := range []string{"workflow: 5 TaskFailed States.TaskFailed: ", "disk full",
		"velocity: workflow execution 1 FAILED: States.TaskFailed: "} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if !strings.Contains(r.stdout, "States.TaskFailed") {
		t.Errorf("the run's output does not say why:\n%s", r.stdout)
	}
	if strings.Contains(r.stdout, "s/after succeeded") {
		t.Errorf("the dependent ran:\n%s", r.stdout)
	}
}

// TestWorkflowActionValidation: a missing definition is an error at the
// workflow key, before anything runs.
func TestWorkflowActionValidation(t *testing.T) {
	e := newEnv(t)
	dir := project(t, map[string]string{"velocity.yml": "stages:\n  - name: s\n    actions:\n      - name: wf\n        workflow: gone.asl.yaml\n"})
	r := e.run(dir, "validate")
	if r.code != 2 || !strings.Contains(r.stderr, "velocity.yml:5:9: stages[0].actions[0].workflow: gone.asl.yaml: no such file in the project") {
		t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestWorkflowActionCtrlCAbortsTheExecution: Ctrl-C of the run stops the
// execution (ABORTED in the journal) and its task's command.
func TestWorkflowActionCtrlCAbortsTheExecution(t *testing.T) {
	e := newEnv(t)
	pids := t.TempDir()
	dir := project(t, map[string]string{
		"hang.asl.yaml": `StartAt: Hang
States:
  Hang:
    Type: Task
    Resource: arn:velocity:command
    Parameters:
      Command: "echo $$ > ` + pids + `/task.pid; sleep 100"
    End: true
`,
		"velocity.yml": "stages:\n  - name: s\n    actions:\n      - name: wf\n        workflow: hang.asl.yaml\n",
	})
	cmd, out := startRun(t, e, dir)
	task := atoi(t, waitFile(t, filepath.Join(pids, "task.pid")))
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("velocity run did not exit after SIGINT; output:\n%s", out)
	}
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Errorf("exit code %d, want 130; output:\n%s", code, out)
	}
	list := e.run(dir, "workflow", "list")
	if !regexp.MustCompile(`(?m)^1\s+ABORTED\s`).MatchString(list.stdout) {
		t.Errorf("workflow list:\n%s%s\nrun:\n%s", list.stdout, list.stderr, out)
	}
	if err := syscall.Kill(task, 0); err == nil {
		t.Errorf("the task's command %d still runs", task)
		syscall.Kill(task, syscall.SIGKILL)
	}
}

// TestWorkflowActionDetached: wait: false succeeds once the execution is
// recorded and started; it ends in the background, as workflow start
// --detach.
func TestWorkflowActionDetached(t *testing.T) {
	e := newEnv(t)
	marks := t.TempDir()
	dir := project(t, map[string]string{
		"slow.asl.yaml": `StartAt: Slow
States:
  Slow:
    Type: Task
    Resource: arn:velocity:command
    Parameters:
      Command: "sleep 1; echo done > ` + marks + `/done; echo '{\"ok\":true}'"
    End: true
`,
		"velocity.yml": "stages:\n  - name: s\n    actions:\n      - name: wf\n        workflow: slow.asl.yaml\n        wait: false\n",
	})
	start := time.Now()
	r := e.run(dir, "run")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if took := time.Since(start); took > 900*time.Millisecond {
		t.Errorf("the run waited %v for a detached workflow", took)
	}
	if log := e.run(dir, "logs", "last", "s/wf").stdout; !strings.Contains(log, "runs in the background (wait: false)") {
		t.Errorf("log:\n%s", log)
	}
	waitFile(t, filepath.Join(marks, "done"))
	deadline := time.Now().Add(10 * time.Second)
	for {
		list := e.run(dir, "workflow", "list")
		if regexp.MustCompile(`(?m)^1\s+SUCCEEDED\s`).MatchString(list.stdout) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the detached execution never succeeded:\n%s%s", list.stdout, list.stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestWorkflowActionTimeout: the action's timeout stops the execution
// and fails the action as a timed-out script would.
func TestWorkflowActionTimeout(t *testing.T) {
	e := newEnv(t)
	dir := project(t, map[string]string{
		"hang.asl.yaml": "StartAt: Hang\nStates:\n  Hang:\n    Type: Task\n    Resource: arn:velocity:command\n    Parameters:\n      Command: sleep 100\n    End: true\n",
		"velocity.yml":  "stages:\n  - name: s\n    actions:\n      - name: wf\n        workflow: hang.asl.yaml\n        timeout: 500ms\n",
	})
	start := time.Now()
	r := e.run(dir, "run")
	if r.code == 0 || !strings.Contains(r.stdout, "timed out after 500ms (workflow execution 1 stopped)") {
		t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the run took %v", took)
	}
	d := e.run(dir, "workflow", "describe", "1")
	if !strings.Contains(d.stdout, "ABORTED") || !strings.Contains(d.stdout, "the action's timeout of 500ms passed") {
		t.Errorf("describe:\n%s%s", d.stdout, d.stderr)
	}
}
