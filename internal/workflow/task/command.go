package task

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/velocity-ci/velocity/internal/proc"
	"github.com/velocity-ci/velocity/internal/workflow"
	"github.com/velocity-ci/velocity/internal/workflow/asl"
	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

// CommandResource is the Resource of a Task state that runs a command. Its
// input names the command: {"Command": "sh script" | ["argv", ...],
// "Input": JSON for stdin (default: the other parameters), "Env": {"NAME":
// "value"}, "Dir": "relative/to/the/definition"}.
const CommandResource = "arn:velocity:command"

// Reaper kills registered process groups, and the processes that carry
// a registered marker, if Velocity dies (reaper.Reaper).
type Reaper interface {
	Add(pgid int)
	Remove(pgid int)
	AddMarker(entry string) error
	RemoveMarker(entry string)
}

// Command is a program run for a task: JSON input on stdin, JSON output
// on stdout. A non-zero exit fails the task: with the error named in a
// JSON object the command printed on stdout ({"error": "...", "cause":
// "..."}, or Lambda's {"errorType", "errorMessage"}), else with
// States.TaskFailed and the end of its stderr as the cause.
type Command struct {
	// Argv runs a program directly; Script (used when Argv is empty) is
	// run by sh -c. Neither ever holds task data: that comes on stdin and
	// in the environment, so it cannot be read as shell syntax.
	Argv   []string
	Script string
	// Dir is the working directory; Env is added to Velocity's own.
	Dir string
	Env map[string]string
	// Heartbeat, when set, is called each time the command writes to
	// stderr: a command shows it is alive by what it prints there (its
	// progress, or a bare newline), as an activity worker calls
	// SendTaskHeartbeat on Step Functions; HeartbeatSeconds then fails
	// only a command silent for that long.
	Heartbeat func()
}

// stderrTail is how much of a failed command's stderr becomes the cause.
const stderrTail = 4096

// killGrace is how long a cancelled command has between SIGTERM and SIGKILL.
const killGrace = 2 * time.Second

// pipeWait bounds how long stdout and stderr are read after the command
// has exited and its process group was killed: only a process that left
// the group (setsid) can still hold them open, and waiting for it would
// hang the task for as long as it lives. Run actions wait as long.
const pipeWait = 2 * time.Second

// Run runs the command with stdin and returns what it printed on stdout.
func (c Command) Run(ctx context.Context, stdin []byte, env []string, rp Reaper) ([]byte, error) {
	name, args := "sh", []string{"-c", c.Script, "sh"}
	if len(c.Argv) > 0 {
		name, args = c.Argv[0], c.Argv[1:]
		// A relative program path names a file in Dir, as in a shell there.
		if strings.Contains(name, "/") && !filepath.IsAbs(name) && c.Dir != "" {
			name = filepath.Join(c.Dir, name)
		}
	}
	env = append(os.Environ(), env...)
	keys := make([]string, 0, len(c.Env))
	for k := range c.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+c.Env[k])
	}
	// Every process of the command carries a marker, so that those that
	// leave its process group (setsid, a double fork) die with it too.
	marker, err := proc.NewMarker(proc.MarkerVar)
	if err != nil {
		return nil, asl.Failf(asl.ErrTaskFailed, "start %s: %v", c.describe(), err)
	}
	var stderr bytes.Buffer
	stdout := &capped{max: workflow.MaxPayloadTextBytes}
	var watchdog proc.Watchdog
	if rp != nil {
		watchdog = rp
	}
	p, err := proc.Start(ctx, proc.Spec{
		Path:   name,
		Args:   args,
		Dir:    c.Dir,
		Env:    env,
		Stdin:  bytes.NewReader(stdin),
		Stdout: stdout,
		Stderr: &tail{max: stderrTail, buf: &stderr, onWrite: c.Heartbeat},
		// Its own process group, so that a timeout or a crash of Velocity
		// takes down whatever the command started too; background
		// processes it left behind die with it when it exits.
		Group:     true,
		Marker:    marker,
		Watchdog:  watchdog,
		KillGrace: killGrace,
		// Once the command has exited, a process that left its group may
		// still hold stdout open: its pipes are closed after pipeWait.
		DrainWait: pipeWait,
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, asl.Failf(asl.ErrTaskFailed, "start %s: %v", c.describe(), err)
	}
	exit, err := p.Wait()
	if err == nil {
		err = exit.Err()
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if stdout.over {
		return nil, asl.Failf(asl.ErrDataLimitExceeded,
			"%s printed more than %d bytes on stdout (the limit on a task command's output, workflow.MaxPayloadTextBytes); a task's result may be at most %d bytes (256 KiB) of JSON",
			c.describe(), workflow.MaxPayloadTextBytes, workflow.MaxPayloadBytes)
	}
	if err != nil {
		return nil, c.failure(err, stdout.buf.Bytes(), stderr.String())
	}
	return stdout.buf.Bytes(), nil
}

func (c Command) describe() string {
	if len(c.Argv) > 0 {
		return strings.Join(c.Argv, " ")
	}
	return fmt.Sprintf("sh -c %q", c.Script)
}

// failure names a failed command's error from the JSON object it printed
// last on stdout, if any.
func (c Command) failure(err error, stdout []byte, stderr string) error {
	if f := errorObject(stdout); f != nil {
		return f
	}
	cause := strings.TrimSpace(stderr)
	if cause == "" {
		cause = fmt.Sprintf("%s: %v", c.describe(), err)
	}
	return &asl.Failure{Name: asl.ErrTaskFailed, Cause: cause}
}

// errorObject reads {"error","cause"} or Lambda's {"errorType",
// "errorMessage"} from the last line of out.
func errorObject(out []byte) *asl.Failure {
	out = bytes.TrimSpace(out)
	if i := bytes.LastIndexByte(out, '\n'); i >= 0 {
		out = out[i+1:]
	}
	var e struct {
		Error        string `json:"error"`
		Cause        string `json:"cause"`
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}
	if len(out) == 0 || out[0] != '{' || json.Unmarshal(out, &e) != nil {
		return nil
	}
	switch {
	case e.Error != "":
		return &asl.Failure{Name: e.Error, Cause: e.Cause}
	case e.ErrorType != "":
		// Step Functions reports a Lambda function's error as its type,
		// with the error object as the cause.
		return &asl.Failure{Name: e.ErrorType, Cause: string(out)}
	}
	return nil
}

// capped keeps the first max bytes written and notes that more came:
// what a command prints is parsed as the task's result, which may not be
// large, and a command printing without end must not fill memory. It
// keeps accepting writes so that the command never blocks on the pipe.
type capped struct {
	max  int
	buf  bytes.Buffer
	over bool
}

func (c *capped) Write(p []byte) (int, error) {
	n := len(p)
	if room := c.max - c.buf.Len(); n > room {
		c.over = true
		p = p[:max(room, 0)]
	}
	c.buf.Write(p)
	return n, nil
}

// tail keeps the last max bytes written, and calls onWrite (when set)
// for each write.
type tail struct {
	max     int
	buf     *bytes.Buffer
	onWrite func()
}

func (t *tail) Write(p []byte) (int, error) {
	if t.onWrite != nil && len(p) > 0 {
		t.onWrite()
	}
	n := len(p)
	t.buf.Write(p)
	if over := t.buf.Len() - t.max; over > 0 {
		rest := append([]byte(nil), t.buf.Bytes()[over:]...)
		t.buf.Reset()
		t.buf.Write(rest)
	}
	return n, nil
}

// commandFromInput reads an arn:velocity:command task's parameters.
func commandFromInput(input any, baseDir string) (Command, any, error) {
	m, err := object(CommandResource, input)
	if err != nil {
		return Command{}, nil, err
	}
	var c Command
	switch v := member(m, "Command").(type) {
	case string:
		c.Script = v
	case []any:
		for _, a := range v {
			s, ok := a.(string)
			if !ok {
				return c, nil, asl.Failf(asl.ErrRuntime, "Command of %s must be a string or an array of strings, it holds %s", CommandResource, kind(a))
			}
			c.Argv = append(c.Argv, s)
		}
	default:
		return c, nil, asl.Failf(asl.ErrRuntime, "resource %s needs the parameter Command: a script or an array of arguments", CommandResource)
	}
	if len(c.Argv) == 0 && c.Script == "" {
		return c, nil, asl.Failf(asl.ErrRuntime, "the Command of %s is empty", CommandResource)
	}
	dir, err := stringField(CommandResource, m, "Dir", false)
	if err != nil {
		return c, nil, err
	}
	c.Dir = resolveDir(baseDir, dir)
	if env, ok := member(m, "Env").(*jsonvalue.Object); ok {
		c.Env = map[string]string{}
		for k, v := range env.All() {
			s, ok := v.(string)
			if !ok {
				b, _ := encode(v)
				s = string(b)
			}
			c.Env[k] = s
		}
	}
	if stdin, ok := m.Get("Input"); ok {
		return c, stdin, nil
	}
	// Without Input, the other parameters are the command's input.
	rest := jsonvalue.NewObject(m.Len())
	for k, v := range m.All() {
		switch k {
		case "Command", "Env", "Dir":
		default:
			rest.Set(k, v)
		}
	}
	return c, rest, nil
}

func resolveDir(base, dir string) string {
	switch {
	case dir == "":
		return base
	case filepath.IsAbs(dir) || base == "":
		return dir
	}
	return filepath.Join(base, dir)
}

// runCommand runs c with input as JSON on stdin and decodes its output.
func (r *Resources) runCommand(ctx context.Context, c Command, req Request, input any) (any, error) {
	stdin, err := encode(input)
	if err != nil {
		return nil, asl.Failf(asl.ErrRuntime, "encode the input of %s: %v", req.StateName, err)
	}
	env := []string{
		"VELOCITY_EXECUTION_ARN=" + req.ExecutionARN,
		"VELOCITY_STATE_NAME=" + req.StateName,
		fmt.Sprintf("VELOCITY_ATTEMPT=%d", req.Attempt),
	}
	if req.TaskToken != "" {
		env = append(env, "VELOCITY_TASK_TOKEN="+req.TaskToken)
	}
	if req.HeartbeatSeconds > 0 {
		env = append(env, fmt.Sprintf("VELOCITY_HEARTBEAT_SECONDS=%d", req.HeartbeatSeconds))
	}
	c.Heartbeat = req.Heartbeat
	out, err := c.Run(ctx, stdin, env, r.Reaper)
	if err != nil {
		return nil, err
	}
	v, err := decode(out)
	if err != nil {
		return nil, asl.Failf(asl.ErrTaskFailed, "%s printed output that is not JSON (%v): %.200s", c.describe(), err, bytes.TrimSpace(out))
	}
	return v, nil
}
