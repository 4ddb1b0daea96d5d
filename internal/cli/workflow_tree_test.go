package cli

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/store/sqlite"
)

// A child left RUNNING under a root that ended ABORTED (what a SIGTERM
// left before stops reached the whole tree) is not carried on by a
// resume: it is recorded ABORTED without running a state.
func TestResumeAbortsTheChildOfAnAbortedParent(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "velocity.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h := &home{dir: dir, store: st}
	a := &app{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	rt, err := a.newWorkflowRuntime(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	defer rt.close()

	def := []byte(`{"StartAt": "Work", "States": {"Work": {"Type": "Task", "Resource": "arn:velocity:command",
		"Parameters": {"Command": "touch ran"}, "End": true}}}`)
	file := filepath.Join(dir, "tree.asl.json")
	if err := os.WriteFile(file, def, 0o600); err != nil {
		t.Fatal(err)
	}
	opts, _ := json.Marshal(workflowOptions{Dir: dir, File: file})
	execution := func(name, parent string) store.Execution {
		return store.Execution{ARN: executionARN("tree", name), Name: name, StateMachine: "tree", Definition: def,
			Input: []byte(`{}`), Options: opts, Parent: parent, Lock: h.lockPath("wf-" + name), Created: time.Now()}
	}
	root, err := st.CreateExecution(ctx, execution("root", ""))
	if err != nil {
		t.Fatal(err)
	}
	child, err := st.CreateChild(ctx, execution("child", executionARN("tree", "root")), store.TreeLimits{})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{root, child} {
		if _, err := st.ClaimExecution(ctx, id, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.FinishExecution(ctx, root, store.ExecutionAborted, nil, "Velocity.Interrupted", "stopped by SIGTERM", time.Now()); err != nil {
		t.Fatal(err)
	}

	if _, err := rt.resumeAll(ctx, nil); err != nil {
		t.Fatal(err)
	}
	e, err := st.Execution(ctx, child)
	if err != nil {
		t.Fatal(err)
	}
	if e.Status != store.ExecutionAborted || e.Error != "Velocity.Interrupted" || !strings.Contains(e.Cause, executionARN("tree", "root")) {
		t.Errorf("the child ended %s %s: %s", e.Status, e.Error, e.Cause)
	}
	if _, err := os.Stat(filepath.Join(dir, "ran")); err == nil {
		t.Error("the child's task ran after its parent was aborted")
	}
}

// A child execution whose input is over the 256 KiB quota is refused by
// the task that starts it (States.DataLimitExceeded, which a Catch can
// handle) instead of being recorded, refused at its start, and left
// RUNNING for every later command to resume and refuse again.
func TestChildInputOverTheQuotaFailsTheTask(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"pass.asl.json": `{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}`,
		"parent.asl.json": `{"StartAt": "Start", "States": {"Start": {"Type": "Task",
			"Resource": "arn:aws:states:::states:startExecution.sync:2",
			"Parameters": {"StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:pass",
				"Input": {"x.$": "$.a", "y.$": "$.a"}}, "End": true}}}`,
		"input.json": `{"a": "` + strings.Repeat("x", 200000) + `"}`,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	home := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, errb strings.Builder
	code := Main(ctx, []string{"--data-dir", home, "-C", dir, "workflow", "run", "parent.asl.json", "--input", "@input.json", "--json"}, nil, &out, &errb)
	if code != ExitFailed || !strings.Contains(out.String(), `"error":"States.DataLimitExceeded"`) {
		t.Errorf("exit %d: %s%s", code, out.String(), errb.String())
	}
	out.Reset()
	Main(context.Background(), []string{"--data-dir", home, "workflow", "list", "--status", "RUNNING"}, nil, &out, io.Discard)
	if strings.Contains(out.String(), "pass") {
		t.Errorf("a refused child was left running:\n%s", out.String())
	}
}

func TestStatePosition(t *testing.T) {
	json := []byte("{\"StartAt\": \"Again\",\n  \"States\": {\n    \"Again\": {\"Type\": \"Task\"}}}")
	yaml := []byte("StartAt: Again\nStates:\n  Again:\n    Type: Task\n")
	for _, c := range []struct {
		src  []byte
		want string
	}{{json, "f:3:5"}, {yaml, "f:3:3"}, {[]byte("{}"), "f"}} {
		if got := statePosition("f", c.src, "Again"); got != c.want {
			t.Errorf("%q: %s, want %s", c.src, got, c.want)
		}
	}
}
