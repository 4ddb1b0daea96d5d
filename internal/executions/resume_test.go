package executions

import (
	"context"
	"encoding/json"
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
	s := New(ctx, Config{Store: st, DataDir: dir})
	defer s.Close()

	def := []byte(`{"StartAt": "Work", "States": {"Work": {"Type": "Task", "Resource": "arn:velocity:command",
		"Parameters": {"Command": "touch ran"}, "End": true}}}`)
	file := filepath.Join(dir, "tree.asl.json")
	if err := os.WriteFile(file, def, 0o600); err != nil {
		t.Fatal(err)
	}
	opts, _ := json.Marshal(options{Dir: dir, File: file})
	execution := func(name, parent string) store.Execution {
		return store.Execution{ARN: executionARN("tree", name), Name: name, StateMachine: "tree", Definition: def,
			Input: []byte(`{}`), Options: opts, Parent: parent, Lock: s.lockPath("wf-" + name), Created: time.Now()}
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

	if _, err := s.ResumeOrphans(ctx, nil); err != nil {
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
