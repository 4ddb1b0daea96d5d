package task

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/workflow"
	"github.com/velocity-ci/velocity/internal/workflow/asl"
	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

// invoke calls a resource with input in the form the interpreter hands
// over (objects as *jsonvalue.Object), whatever Go value the test wrote.
func invoke(t *testing.T, r *Resources, resource string, input any) (any, error) {
	t.Helper()
	return r.Invoke(context.Background(), Request{Resource: resource, Input: mustJSON(t, asJSON(t, input)), StateName: "S", Heartbeat: func() {}})
}

func mustJSON(t *testing.T, s string) any {
	t.Helper()
	v, err := decode([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func asJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := encode(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func failure(t *testing.T, err error) *asl.Failure {
	t.Helper()
	var f *asl.Failure
	if !errors.As(err, &f) {
		t.Fatalf("want an *asl.Failure, got %v", err)
	}
	return f
}

func TestCommandGetsInputOnStdinAndReturnsStdout(t *testing.T) {
	r := &Resources{Dir: t.TempDir()}
	// jq-free: the script wraps stdin in an object using sh only.
	out, err := invoke(t, r, CommandResource, mustJSON(t, `{"Command": "printf '{\"got\":%s}' \"$(cat)\"", "Input": {"n": 1.50}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := asJSON(t, out); got != `{"got":{"n":1.5}}` {
		t.Errorf("output %s", got)
	}
	// Without Input the other parameters are sent.
	out, err = invoke(t, r, CommandResource, mustJSON(t, `{"Command": ["cat"], "x": [1, "two"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := asJSON(t, out); got != `{"x":[1,"two"]}` {
		t.Errorf("output %s", got)
	}
}

func TestCommandArgvRunsRelativeToTheDefinition(t *testing.T) {
	dir := t.TempDir()
	script := "#!/bin/sh\necho \"{\\\"arg\\\": \\\"$1\\\", \\\"pwd\\\": \\\"$(pwd)\\\", \\\"state\\\": \\\"$VELOCITY_STATE_NAME\\\"}\"\n"
	if err := os.WriteFile(filepath.Join(dir, "tool.sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	r := &Resources{Dir: dir}
	// An argument with shell syntax stays one plain argument.
	out, err := invoke(t, r, CommandResource, mustJSON(t, `{"Command": ["./tool.sh", "$(id) ;x"]}`))
	if err != nil {
		t.Fatal(err)
	}
	m := out.(*jsonvalue.Object)
	if member(m, "arg") != "$(id) ;x" || member(m, "pwd") != dir || member(m, "state") != "S" {
		t.Errorf("output %v", m)
	}
}

func TestCommandFailures(t *testing.T) {
	r := &Resources{Dir: t.TempDir()}
	for _, tc := range []struct {
		name, script, wantError, wantCause string
	}{
		{"stderr is the cause", `echo partial; echo "disk full" >&2; exit 3`, asl.ErrTaskFailed, "disk full"},
		{"named error", `echo '{"error": "Account.Locked", "cause": "account 7 is locked"}'; exit 1`, "Account.Locked", "account 7 is locked"},
		{"lambda-style error", `echo '{"errorType": "ValueError", "errorMessage": "bad"}'; exit 1`, "ValueError", `{"errorType": "ValueError", "errorMessage": "bad"}`},
		{"no output at all", `exit 4`, asl.ErrTaskFailed, "exit status 4"},
		{"output not JSON", `echo hello`, asl.ErrTaskFailed, "not JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := invoke(t, r, CommandResource, map[string]any{"Command": tc.script})
			f := failure(t, err)
			if f.Name != tc.wantError || !strings.Contains(f.Cause, tc.wantCause) {
				t.Errorf("got %q / %q, want %q / containing %q", f.Name, f.Cause, tc.wantError, tc.wantCause)
			}
		})
	}
	if _, err := invoke(t, r, CommandResource, map[string]any{"Input": 1}); failure(t, err).Name != asl.ErrRuntime {
		t.Errorf("missing Command: %v", err)
	}
}

func TestCommandTimeoutKillsItsProcessGroup(t *testing.T) {
	dir := t.TempDir()
	r := &Resources{Dir: dir}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := r.Invoke(ctx, Request{Resource: CommandResource, StateName: "S", Heartbeat: func() {},
		Input: mustJSON(t, `{"Command": "trap \"\" TERM; sleep 60 & echo $! > bg.pid; wait"}`)})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v", err)
	}
	if d := time.Since(start); d > killGrace+5*time.Second {
		t.Errorf("took %v to stop", d)
	}
	b, err := os.ReadFile(filepath.Join(dir, "bg.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("background process %d of the timed-out command is still alive", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A command that exits while something it started still holds its stdout
// (a background job of its group, or one that left the group with setsid)
// ends the task at once or after pipeWait, as a run action does, instead
// of waiting for the leftover to close the pipe.
func TestCommandLeftoverHoldingStdoutDoesNotHangTheTask(t *testing.T) {
	for name, script := range map[string]string{
		"same group": `sleep 30 & echo $! > left.pid; echo '{"done":true}'`,
		"setsid":     `setsid sh -c 'echo $$ > left.pid; exec sleep 30' & while [ ! -s left.pid ]; do sleep 0.01; done; echo '{"done":true}'`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			r := &Resources{Dir: dir}
			start := time.Now()
			out, err := invoke(t, r, CommandResource, map[string]any{"Command": script})
			took := time.Since(start)
			b, _ := os.ReadFile(filepath.Join(dir, "left.pid"))
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil {
				t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := asJSON(t, out); got != `{"done":true}` {
				t.Errorf("output %s", got)
			}
			if took > pipeWait+3*time.Second {
				t.Errorf("the task took %v: it waited for the leftover process to close stdout", took)
			}
		})
	}
}

// A command that prints more than a result can be is cut off at
// workflow.MaxPayloadTextBytes, read to its end without being kept, and
// fails its task with States.DataLimitExceeded naming the limit.
func TestCommandOutputIsBounded(t *testing.T) {
	r := &Resources{Dir: t.TempDir()}
	start := time.Now()
	_, err := invoke(t, r, CommandResource, map[string]any{"Command": `printf '"'; head -c 50000000 /dev/zero | tr '\0' x; printf '"'`})
	f := failure(t, err)
	if f.Name != asl.ErrDataLimitExceeded || !strings.Contains(f.Cause, strconv.Itoa(workflow.MaxPayloadTextBytes)) {
		t.Errorf("%s: %s", f.Name, f.Cause)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("took %v", d)
	}
}

// Processes a command moved out of its process group (setsid, a double
// fork) die when the task ends, as an action's do: they carry the
// command's marker.
func TestCommandSetsidLeftoverIsKilled(t *testing.T) {
	for name, script := range map[string]string{
		"setsid":      `setsid sh -c 'echo $$ > left.pid; exec sleep 300' </dev/null >/dev/null 2>&1 & while [ ! -s left.pid ]; do sleep 0.01; done; echo '{}'`,
		"double fork": `( setsid sh -c 'echo $$ > left.pid; exec sleep 300' </dev/null >/dev/null 2>&1 & ) ; while [ ! -s left.pid ]; do sleep 0.01; done; echo '{}'`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			r := &Resources{Dir: dir}
			if _, err := invoke(t, r, CommandResource, map[string]any{"Command": script}); err != nil {
				t.Fatal(err)
			}
			b, _ := os.ReadFile(filepath.Join(dir, "left.pid"))
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatalf("left.pid: %q", b)
			}
			t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
			// Killed, it may stay a zombie of init for a moment.
			deadline := time.Now().Add(5 * time.Second)
			for alive(pid) && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if alive(pid) {
				t.Errorf("process %d that left the command's group outlived the task", pid)
			}
		})
	}
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}
