package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/executor/executortest"
)

// A state machine that starts itself: each execution runs a command (its
// pid written to PIDS) beside a Wait of a second and a .sync start of a
// new execution of itself.
const selfStartingTree = `{"StartAt": "Both", "States": {"Both": {"Type": "Parallel", "End": true, "Branches": [
  {"StartAt": "Work", "States": {"Work": {"Type": "Task", "Resource": "arn:velocity:command",
    "Parameters": {"Command": "echo $$ > \"$PIDS/$$\"; exec sleep 60", "Env": {"PIDS": "%s"}}, "End": true}}},
  {"StartAt": "Pause", "States": {
    "Pause": {"Type": "Wait", "Seconds": 1, "Next": "Again"},
    "Again": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
      "Parameters": {"StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:tree", "Input": {}}, "End": true}}}
]}}}`

// listedExecutions is `velocity workflow list --json`.
func listedExecutions(t *testing.T, e *env, dir string) []map[string]any {
	t.Helper()
	r := e.run(dir, "workflow", "list", "--json", "--limit", "1000")
	var out struct {
		Executions []map[string]any `json:"executions"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("workflow list --json: %v\n%s%s", err, r.stdout, r.stderr)
	}
	return out.Executions
}

// stopVelocityProcesses ends, by pid, the velocity processes working on
// this test's data directory (a background resumer), so that a failing
// test leaves nothing behind.
func stopVelocityProcesses(t *testing.T, e *env) {
	entries, _ := os.ReadDir("/proc")
	for _, d := range entries {
		var pid int
		if _, err := fmt.Sscan(d.Name(), &pid); err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline"))
		if err == nil && strings.HasPrefix(string(cmdline), binary+"\x00") && strings.Contains(string(cmdline), e.home) {
			t.Logf("ending velocity process %d: %q", pid, cmdline)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// SIGTERM of a workflow whose executions keep starting new ones stops the
// whole tree: the process exits within seconds, every execution is
// ABORTED with a cause, no task command or lock file is left, and a later
// workflow command resumes nothing.
func TestWorkflowSelfStartingTreeStopsOnSIGTERM(t *testing.T) {
	e := newEnv(t)
	t.Cleanup(func() { stopVelocityProcesses(t, e) })
	pids := t.TempDir()
	dir := project(t, map[string]string{"tree.asl.json": fmt.Sprintf(selfStartingTree, pids)})
	cmd := e.command(dir, "workflow", "run", "tree.asl.json")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Three generations running, each with its command.
	deadline := time.Now().Add(20 * time.Second)
	for {
		entries, _ := os.ReadDir(pids)
		if len(entries) >= 3 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the tree never grew to 3 executions:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	start := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("velocity workflow run did not exit within 15 s of SIGTERM:\n%.2000s", out.String())
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("stopping took %v", took)
	}
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Errorf("exit code %d, want 130:\n%.2000s", code, out.String())
	}

	// Every execution of the tree is ABORTED; those below the root say
	// which stop they were part of.
	executions := listedExecutions(t, e, dir)
	if len(executions) < 3 {
		t.Fatalf("%d executions listed, want at least 3", len(executions))
	}
	for _, x := range executions {
		if x["status"] != "ABORTED" {
			t.Errorf("execution %v (parent %v) is %v after SIGTERM, want ABORTED", x["id"], x["parentExecutionArn"], x["status"])
		}
		cause, _ := x["cause"].(string)
		if x["parentExecutionArn"] != nil && !strings.Contains(cause, "stopped by SIGTERM") {
			t.Errorf("execution %v: cause %q does not say it was stopped with its root", x["id"], cause)
		}
	}
	entries, _ := os.ReadDir(pids)
	var commands []int
	for _, en := range entries {
		commands = append(commands, atoi(t, en.Name()))
	}
	executortest.WaitGone(t, 5*time.Second, commands...)
	if locks, _ := filepath.Glob(filepath.Join(e.home, "locks", "wf-*")); len(locks) > 0 {
		t.Errorf("%d lock files left: %v", len(locks), locks)
	}

	// A later command finds nothing to resume, and nothing runs again.
	before := len(executions)
	listedExecutions(t, e, dir)
	time.Sleep(2 * time.Second)
	if _, err := os.Stat(filepath.Join(e.home, "logs", "workflow-resume.log")); err == nil {
		t.Errorf("a later workflow command resumed executions:\n%s", readFile(t, filepath.Join(e.home, "logs", "workflow-resume.log")))
	}
	after := listedExecutions(t, e, dir)
	for _, x := range after {
		if x["status"] != "ABORTED" {
			t.Errorf("after a later command, execution %v is %v", x["id"], x["status"])
		}
	}
	if len(after) != before {
		t.Errorf("%d executions before the later command, %d after", before, len(after))
	}
}

// Left alone, a state machine that starts itself fails at the nesting
// limit with an error naming it, which a Catch can handle.
func TestWorkflowSelfStartingFailsAtTheNestingLimit(t *testing.T) {
	const self = `{"StartAt": "Again", "States": {"Again": {"Type": "Task",
		"Resource": "arn:aws:states:::states:startExecution.sync:2",
		"Parameters": {"StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:self", "Input": {}},
		%s "End": true}%s}}`
	for _, c := range []struct {
		name, catch, catchState, want string
	}{
		{name: "uncaught", want: "FAILED"},
		{name: "caught", want: "SUCCEEDED",
			catch:      `"Catch": [{"ErrorEquals": ["StepFunctions.ExecutionLimitExceeded"], "ResultPath": "$.limit", "Next": "Deepest"}],`,
			catchState: `, "Deepest": {"Type": "Pass", "End": true}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			t.Cleanup(func() { stopVelocityProcesses(t, e) })
			dir := project(t, map[string]string{"self.asl.json": fmt.Sprintf(self, c.catch, c.catchState)})
			cmd := e.command(dir, "workflow", "run", "self.asl.json", "--json")
			var out, errb strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &errb
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() { cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				<-done
				t.Fatalf("the self-starting workflow still ran after 30 s; %d executions", len(listedExecutions(t, e, dir)))
			}
			var res map[string]any
			json.Unmarshal([]byte(out.String()), &res)
			if res["status"] != c.want {
				t.Errorf("root: %.500s, want %s", out.String(), c.want)
			}
			executions := listedExecutions(t, e, dir)
			if len(executions) != 11 {
				t.Errorf("%d executions, want 11: the root and 10 levels of children", len(executions))
			}
			deepest := executions[0] // newest first
			if c.name == "uncaught" {
				cause, _ := deepest["cause"].(string)
				if deepest["error"] != "StepFunctions.ExecutionLimitExceeded" || !strings.Contains(cause, "MaxDepth = 10") ||
					!regexp.MustCompile(`self\.asl\.json:1:\d+: state Again `).MatchString(cause) {
					t.Errorf("the deepest execution ended %v: %v: %v", deepest["status"], deepest["error"], cause)
				}
			} else if deepest["status"] != "SUCCEEDED" {
				t.Errorf("the deepest execution did not catch the limit: %v %v %v", deepest["status"], deepest["error"], deepest["cause"])
			}
		})
	}
}

// Lock files no execution uses any more (left by a velocity killed after
// an execution ended) are removed by the next workflow command; a new
// one, which may be about to be locked, is not.
func TestWorkflowStaleLockFilesAreRemoved(t *testing.T) {
	e := newEnv(t)
	dir := project(t, map[string]string{"pass.asl.json": `{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}`})
	if r := e.run(dir, "workflow", "run", "pass.asl.json"); r.code != 0 {
		t.Fatalf("run: exit %d\n%s", r.code, r.stderr)
	}
	locks := filepath.Join(e.home, "locks")
	stale, fresh := filepath.Join(locks, "wf-stale.lock"), filepath.Join(locks, "wf-fresh.lock")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * time.Minute)
	os.Chtimes(stale, old, old)
	e.run(dir, "workflow", "list")
	if _, err := os.Stat(stale); err == nil {
		t.Error("a stale lock file was left")
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("a new lock file was removed: %v", err)
	}
}

// A tree whose process was killed is stopped whole by 'workflow stop' of
// its root: the executions resumed in the background abort instead of
// carrying on (and starting more).
func TestWorkflowStopOfAKilledTreeAbortsEveryExecution(t *testing.T) {
	e := newEnv(t)
	t.Cleanup(func() { stopVelocityProcesses(t, e) })
	pids := t.TempDir()
	dir := project(t, map[string]string{"tree.asl.json": fmt.Sprintf(selfStartingTree, pids)})
	cmd := e.command(dir, "workflow", "run", "tree.asl.json", "--name", "root")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		entries, _ := os.ReadDir(pids)
		if len(entries) >= 3 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the tree never grew to 3 executions")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()

	if r := e.run(dir, "workflow", "stop", "root", "--error", "Halt", "--cause", "by hand"); r.code != 0 || !strings.Contains(r.stdout, "ABORTED") {
		t.Fatalf("stop: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var executions []map[string]any
	deadline = time.Now().Add(15 * time.Second)
	for {
		executions = listedExecutions(t, e, dir)
		live := 0
		for _, x := range executions {
			if x["status"] == "RUNNING" || x["status"] == "PENDING" {
				live++
			}
		}
		if live == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d executions still live 15 s after the stop", live, len(executions))
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, x := range executions {
		if x["status"] != "ABORTED" || x["error"] != "Halt" {
			t.Errorf("execution %v ended %v %v: %v", x["id"], x["status"], x["error"], x["cause"])
		}
	}
	// Nothing started after the stop: at most the generation being
	// started at the kill is there besides the three seen.
	if len(executions) > 5 {
		t.Errorf("%d executions: the tree kept growing after the stop", len(executions))
	}
}
