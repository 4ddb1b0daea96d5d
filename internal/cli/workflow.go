package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/velocity-ci/velocity/internal/lockfile"
	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/workflow"
	"github.com/velocity-ci/velocity/internal/workflow/asl"
	"github.com/velocity-ci/velocity/internal/workflow/payload"
	"github.com/velocity-ci/velocity/internal/workflow/task"
)

func (a *app) workflowCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "workflow",
		Short: "Run durable state machines in the Amazon States Language",
		Long: `Run state machines written in the Amazon States Language (JSON or YAML), durably:
every history event is journaled before it is acted on, so an execution
interrupted by a crash continues where it was when Velocity starts again.
Finished states and Map iterations never run twice; a task that was in
flight runs again (at least once).`,
	}
	cmd.AddCommand(
		a.workflowValidateCmd(),
		a.workflowRunCmd(false),
		a.workflowRunCmd(true),
		a.workflowListCmd(),
		a.workflowDescribeCmd(),
		a.workflowHistoryCmd(),
		a.workflowStopCmd(),
		a.workflowRedriveCmd(),
		a.workflowTaskCmd(),
		a.workflowResumeCmd(),
	)
	return cmd
}

// withWorkflows wraps a workflow command: it opens the data directory and
// the workflow runtime, and first gets executions whose owner died going
// again in the background.
func (a *app) withWorkflows(fn func(ctx context.Context, rt *workflowRuntime, args []string) error) func(*cobra.Command, []string) error {
	return a.withHome(func(ctx context.Context, h *home, args []string) error {
		rt, err := a.newWorkflowRuntime(ctx, h)
		if err != nil {
			return err
		}
		defer rt.close()
		rt.resumeInBackground(ctx)
		return fn(ctx, rt, args)
	})
}

// inDir resolves a file argument against -C, as if velocity had been
// started there.
func (a *app) inDir(path string) string {
	if path == "" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(a.dir, path)
}

// loadDefinition reads and validates a definition file; problems are
// printed one a line as FILE:LINE:COL: POINTER: MESSAGE and exit 2.
func (a *app) loadDefinition(file string) (*asl.StateMachine, []byte, error) {
	src, err := asl.ReadFile(a.inDir(file))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, usageError("%s: no such file", file)
	}
	if err != nil {
		return nil, nil, usageError("%v", err)
	}
	sm, err := asl.Load(file, src)
	if err != nil {
		var errs asl.Errors
		if errors.As(err, &errs) {
			lines := make([]string, len(errs))
			for i, e := range errs {
				lines[i] = e.String()
			}
			printErrors(a.stderr, lines)
			fmt.Fprintf(a.stderr, "velocity: %s has %d %s\n", file, len(errs), plural(len(errs), "error"))
			return nil, nil, &exitError{code: ExitUsage}
		}
		return nil, nil, &exitError{code: ExitUsage, err: fmt.Errorf("%s: %w", file, err)}
	}
	for _, w := range sm.Warnings {
		fmt.Fprintf(a.stderr, "warning: %s\n", w)
	}
	return sm, src, nil
}

func (a *app) workflowValidateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE",
		Short: "Check a state machine against every rule of the States Language",
		Long: `Check a state machine definition (JSON or YAML) against every rule of the
Amazon States Language and print each problem as FILE:LINE:COL: POINTER: MESSAGE.
Exit status 2 when there is any.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sm, _, err := a.loadDefinition(args[0])
			if err != nil {
				return err
			}
			n := countStates(sm)
			fmt.Fprintf(a.stdout, "%s is valid: %d %s\n", args[0], n, plural(n, "state"))
			return nil
		},
	}
}

// countStates counts the states of a machine and of its branches and
// item processors.
func countStates(sm *asl.StateMachine) int {
	if sm == nil {
		return 0
	}
	n := 0
	for _, s := range sm.States {
		n++
		for _, b := range s.Branches {
			n += countStates(b)
		}
		n += countStates(s.ItemProcessor)
	}
	return n
}

// workflowRunOptions are the flags of run and start.
type workflowRunOptions struct {
	input, name, stateMachine string
	mocks, testCase, bindings string
	key, awsEndpoint          string
	limit                     int
	json, detach              bool
}

func (a *app) workflowRunCmd(start bool) *cobra.Command {
	var o workflowRunOptions
	cmd := &cobra.Command{
		Use:   "run FILE",
		Short: "Run a state machine to its end in the foreground and print its output",
		Long: `Run a state machine to its end in the foreground and print its output on
stdout (with --json exactly one object: {"status":"SUCCEEDED","output":…} or
{"status":"FAILED","error":"…","cause":"…"}, without the error or cause the
execution has none of, as DescribeExecution). Exit status 0 when it
succeeded, 1 when it failed, timed out or was aborted, 2 for an invalid
definition or flag. Ctrl-C (or SIGTERM) stops (aborts) the execution and every
execution its tasks started; a second one exits at once, leaving them to be
aborted by the next workflow command.`,
		Args: cobra.ExactArgs(1),
	}
	if start {
		cmd.Use = "start FILE"
		cmd.Short = "Start an execution: recorded, then run here, or in the background with --detach"
		cmd.Long = `Start an execution of a state machine. It is recorded in the journal first
and printed with its ID; then it runs in the foreground like 'workflow run', or
with --detach in a background process (the command prints the ID and returns
at once; follow it with 'workflow describe ID' or 'workflow history ID').`
		cmd.Flags().BoolVarP(&o.detach, "detach", "d", false, "run the execution in a background process and return at once")
	}
	cmd.RunE = a.withWorkflows(func(ctx context.Context, rt *workflowRuntime, args []string) error {
		return a.runWorkflow(ctx, rt, args[0], o, start)
	})
	f := cmd.Flags()
	f.StringVarP(&o.input, "input", "i", "{}", "the execution input: `JSON`, or @FILE to read it from a file (@- for stdin)")
	f.StringVar(&o.name, "name", "", "the execution's name (default: generated); unique per state machine")
	f.StringVar(&o.stateMachine, "state-machine", "", "the state machine's name (default: the file name without its extensions)")
	f.BoolVar(&o.json, "json", false, "print exactly one JSON object on stdout")
	f.StringVar(&o.bindings, "bindings", "", "a YAML or JSON `FILE` binding Resource ARNs and Lambda functions to commands ({run: CMD}) or URLs ({http: URL}), and state machines to files ({definition: FILE})")
	f.StringVar(&o.mocks, "mocks", "", "a Step Functions Local MockConfigFile: tasks get its mocked responses for the --test-case")
	f.StringVar(&o.testCase, "test-case", "", "the test case of --mocks to run: `NAME` or STATE_MACHINE#NAME")
	f.StringVar(&o.awsEndpoint, "aws-endpoint", "", "call the AWS service integrations (Lambda, SQS, SNS, DynamoDB, S3, aws-sdk) and read S3 ItemReaders at `URL` (LocalStack: http://localhost:4566), or at AWS itself with \"aws\"; region and credentials come from the AWS environment variables and files; mocks and bindings come first")
	f.StringVar(&o.key, "concurrency-key", "", "executions with the same `KEY` run at most --concurrency-limit at a time; the others wait, first come first run")
	f.IntVar(&o.limit, "concurrency-limit", 1, "how many executions of --concurrency-key may run at once")
	return cmd
}

// stateMachineName is a definition file's base name without extensions.
func stateMachineName(file string) string {
	base := filepath.Base(file)
	for _, ext := range []string{".yaml", ".yml", ".json", ".asl"} {
		base = strings.TrimSuffix(base, ext)
	}
	return base
}

// checkName applies Step Functions' rule for execution and state machine
// names (they end up in ARNs): 1 to 80 characters, none of whitespace,
// brackets, wildcards, punctuation that ARNs or URLs give a meaning.
func checkName(name string) error {
	if name == "" || len(name) > 80 {
		return errors.New("a name has 1 to 80 characters")
	}
	for _, r := range name {
		if r <= ' ' || r == 0x7f || strings.ContainsRune("<>{}[]?*\"#%\\^|~`$&,;:/", r) {
			return fmt.Errorf("a name may not contain %q", r)
		}
	}
	return nil
}

// readInput reads a JSON flag's value (--input, --output): JSON, @FILE
// or @- for stdin. Errors name the flag. At most
// workflow.MaxPayloadTextBytes are read and parsed, and the JSON may be at
// most workflow.MaxPayloadBytes compact, Step Functions' quota for an
// execution's input and a task's output: refused here, nothing is
// recorded.
func (a *app) readInput(flag, s string) ([]byte, error) {
	src := []byte(s)
	if name, ok := strings.CutPrefix(s, "@"); ok {
		var r io.Reader = a.stdin
		if name != "-" {
			f, err := os.Open(a.inDir(name))
			if err != nil {
				return nil, usageError("%s %s: %v", flag, s, err)
			}
			defer f.Close()
			r = f
		} else if r == nil {
			r = strings.NewReader("")
		}
		var err error
		src, err = io.ReadAll(io.LimitReader(r, workflow.MaxPayloadTextBytes+1))
		if err != nil {
			return nil, usageError("%s %s: %v", flag, s, err)
		}
	}
	if len(src) > workflow.MaxPayloadTextBytes {
		return nil, usageError("%s %s: more than %d bytes of text (the input limit, workflow.MaxPayloadTextBytes); Step Functions takes at most %d bytes (256 KiB) of JSON: pass a reference to the data (a file name or object key) instead",
			flag, abbreviate(s), workflow.MaxPayloadTextBytes, workflow.MaxPayloadBytes)
	}
	v, err := payload.Decode(src)
	if err != nil {
		return nil, usageError("%s is not JSON: %v", flag, err)
	}
	out, err := marshalJSON(v)
	if err != nil {
		return nil, err
	}
	if len(out) > workflow.MaxPayloadBytes {
		return nil, usageError("%s %s: %d bytes of JSON, more than the %d bytes (256 KiB, workflow.MaxPayloadBytes) Step Functions accepts; pass a reference to the data (a file name or object key) instead",
			flag, abbreviate(s), len(out), workflow.MaxPayloadBytes)
	}
	return out, nil
}

// abbreviate shortens a flag's value for an error message.
func abbreviate(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}

func (a *app) runWorkflow(ctx context.Context, rt *workflowRuntime, file string, o workflowRunOptions, start bool) error {
	_, src, err := a.loadDefinition(file)
	if err != nil {
		return err
	}
	input, err := a.readInput("--input", o.input)
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(a.inDir(file))
	if err != nil {
		return err
	}
	smName := o.stateMachine
	if smName == "" {
		smName = stateMachineName(file)
	}
	opts := workflowOptions{Dir: filepath.Dir(abs), File: abs}
	if o.bindings != "" {
		if _, err := task.LoadBindings(a.inDir(o.bindings)); err != nil {
			return usageError("--bindings: %v", err)
		}
		opts.Bindings, _ = filepath.Abs(a.inDir(o.bindings))
	}
	if o.mocks != "" {
		m, err := task.LoadMocks(a.inDir(o.mocks))
		if err != nil {
			return usageError("--mocks: %v", err)
		}
		tc := o.testCase
		if sm, c, ok := strings.Cut(tc, "#"); ok {
			smName, tc = sm, c
		}
		if _, ok := m.StateMachines[smName]; !ok {
			return usageError("--mocks %s has no state machine %q under StateMachines (it has: %s); name the state machine with --state-machine or --test-case STATE_MACHINE#NAME",
				o.mocks, smName, strings.Join(slices.Sorted(maps.Keys(m.StateMachines)), ", "))
		}
		if tc == "" {
			return usageError("--mocks needs --test-case NAME (test cases of %s: %s)", smName, strings.Join(m.TestCases(smName), ", "))
		}
		if !m.HasTestCase(smName, tc) {
			return usageError("%s has no test case %q for state machine %s (it has: %s)", o.mocks, tc, smName, strings.Join(m.TestCases(smName), ", "))
		}
		opts.Mocks, _ = filepath.Abs(a.inDir(o.mocks))
		opts.TestCase = tc
	} else if o.testCase != "" {
		return usageError("--test-case needs --mocks FILE")
	}
	if e := o.awsEndpoint; e != "" && e != "aws" {
		if u, err := url.Parse(e); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usageError("--aws-endpoint %q is not an http or https URL (or \"aws\")", e)
		}
	}
	opts.AWSEndpoint = o.awsEndpoint
	if o.limit < 1 {
		return usageError("--concurrency-limit must be at least 1, not %d", o.limit)
	}
	name := o.name
	if name == "" {
		name = newToken()
	}
	if err := checkName(name); err != nil {
		return usageError("--name %q: %v", name, err)
	}
	if err := checkName(smName); err != nil {
		return usageError("state machine name %q: %v; give another with --state-machine", smName, err)
	}
	e, lock, err := rt.create(ctx, newExecution{
		name: name, stateMachine: smName, definition: src, input: input, key: o.key, limit: o.limit, opts: opts,
	})
	var f *asl.Failure
	if errors.As(err, &f) {
		return usageError("%s", f.Cause)
	}
	if err != nil {
		return err
	}
	if start && o.detach {
		// The background resumer takes the execution over once this
		// process lets go of it.
		lock.Release()
		rt.resumeInBackground(ctx)
		if o.json {
			return writeJSON(a.stdout, map[string]any{"id": e.ID, "executionArn": e.ARN, "startDate": awsTime(e.Created)})
		}
		fmt.Fprintln(a.stdout, e.ID)
		return nil
	}
	if !o.json {
		rt.notify = func(format string, args ...any) { fmt.Fprintf(a.stderr, format, args...) }
		if start {
			fmt.Fprintf(a.stderr, "velocity: execution %d (%s) started\n", e.ID, e.ARN)
		}
	}
	return a.foreground(ctx, rt, e, lock, o.json)
}

// foreground runs an execution to its end here; Ctrl-C or SIGTERM aborts
// it and the executions below it.
func (a *app) foreground(ctx context.Context, rt *workflowRuntime, e store.Execution, lock *lockfile.Lock, asJSON bool) error {
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	var interrupted atomic.Bool
	go func() {
		n := 0
		for sig := range sigs {
			n++
			interrupted.Store(true)
			if n == 1 {
				// A stop request of the whole tree, journaled before any
				// execution acts on it, so that whoever resumes one of
				// them later aborts it instead of carrying on; each
				// execution running here sees it and aborts.
				below, err := rt.h.store.RequestStop(context.WithoutCancel(ctx), e.ID, "Velocity.Interrupted", "stopped by "+signalName(sig))
				if err != nil && !errors.Is(err, store.ErrNotFound) {
					fmt.Fprintf(a.stderr, "velocity: could not record the stop of execution %d: %v\n", e.ID, err)
				}
				fmt.Fprintf(a.stderr, "velocity: stopping execution %d and %d %s it started (%s again to exit at once; the next workflow command aborts what is left)\n",
					e.ID, below, plural(below, "execution"), signalName(sig))
				continue
			}
			// Give up waiting: every execution stays as journaled, with
			// its stop recorded, and the next workflow command aborts it.
			cancel(errors.New("interrupted twice"))
			rt.abandon()
		}
	}()
	res, err := rt.execute(runCtx, e, lock)
	if err != nil && interrupted.Load() {
		fmt.Fprintf(a.stderr, "velocity: left execution %d as journaled, stopped; the next 'velocity workflow' command aborts it\n", e.ID)
		return &exitError{code: ExitInterrupted}
	}
	if err != nil {
		return err
	}
	if asJSON {
		if err := writeResult(a.stdout, res); err != nil {
			return err
		}
	} else {
		d := res.StopTime.Sub(res.StartTime)
		if res.Status == workflow.StatusSucceeded {
			fmt.Fprintf(a.stderr, "velocity: execution %d (%s) SUCCEEDED in %s\n", e.ID, e.Name, d.Round(time.Millisecond))
			enc := json.NewEncoder(a.stdout)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(res.Output); err != nil {
				return err
			}
		} else {
			fmt.Fprintf(a.stderr, "velocity: execution %d (%s) %s: %s: %s\n", e.ID, e.Name, res.Status, res.Error, res.Cause)
			fmt.Fprintf(a.stderr, "velocity: see 'velocity workflow history %d'\n", e.ID)
		}
	}
	switch {
	case res.Status == workflow.StatusSucceeded:
		return nil
	case interrupted.Load():
		return &exitError{code: ExitInterrupted}
	}
	return &exitError{code: ExitFailed}
}

// signalName names a stop signal as users type it.
func signalName(sig os.Signal) string {
	if sig == syscall.SIGTERM {
		return "SIGTERM"
	}
	return "Ctrl-C"
}

// writeResult prints an execution's end as run --json's one object.
func writeResult(w interface{ Write([]byte) (int, error) }, res workflow.Result) error {
	// Structs keep the documented key order: status first.
	if res.Status == workflow.StatusSucceeded {
		return writeJSON(w, struct {
			Status string `json:"status"`
			Output any    `json:"output"`
		}{res.Status, res.Output})
	}
	// DescribeExecution leaves out an error or cause the execution has
	// none of (a Fail state with only Error, say).
	return writeJSON(w, struct {
		Status string `json:"status"`
		Error  string `json:"error,omitempty"`
		Cause  string `json:"cause,omitempty"`
	}{res.Status, res.Error, res.Cause})
}

func writeJSON(w interface{ Write([]byte) (int, error) }, v any) error {
	b, err := marshalJSON(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// marshalJSON is json.Marshal without escaping <, > and & as \u003c and
// the like: Step Functions writes them as they are, and the output is read
// by people and compared with AWS's, not put into HTML.
func marshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// awsTime is a timestamp in the journal's form: RFC 3339, milliseconds, UTC.
func awsTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// executionArg resolves an execution argument: its number, ARN or name,
// or "last" for the newest.
func executionArg(ctx context.Context, rt *workflowRuntime, arg string) (store.Execution, error) {
	st := rt.h.store
	if arg == "last" {
		es, err := st.Executions(ctx, store.ExecutionFilter{Limit: 1})
		if err != nil {
			return store.Execution{}, err
		}
		if len(es) == 0 {
			return store.Execution{}, usageError("no workflow executions yet in %s: start one with 'velocity workflow run FILE'", rt.h.dir)
		}
		return es[0], nil
	}
	if id, err := strconv.ParseInt(arg, 10, 64); err == nil {
		e, err := st.Execution(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return e, usageError("execution %d not found in %s (see 'velocity workflow list')", id, rt.h.dir)
		}
		return e, err
	}
	if strings.HasPrefix(arg, "arn:") {
		e, err := st.ExecutionByARN(ctx, arg)
		if errors.Is(err, store.ErrNotFound) {
			return e, usageError("execution %s not found in %s (see 'velocity workflow list')", arg, rt.h.dir)
		}
		return e, err
	}
	found, err := st.Executions(ctx, store.ExecutionFilter{Name: arg, Limit: 2})
	if err != nil {
		return store.Execution{}, err
	}
	switch len(found) {
	case 0:
		return store.Execution{}, usageError("no execution numbered or named %q (see 'velocity workflow list')", arg)
	case 1:
		return found[0], nil
	}
	return store.Execution{}, usageError("several executions are named %q (of different state machines): give the number or the ARN", arg)
}
