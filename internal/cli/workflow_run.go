package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/velocity-ci/velocity/internal/executions"
)

// workflowRunOptions are the flags of run and start.
type workflowRunOptions struct {
	input, name, stateMachine string
	mocks, testCase, bindings string
	awsEndpoint               string
	key                       string
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
	cmd.RunE = a.withWorkflows(func(ctx context.Context, svc *executions.Service, args []string) error {
		return a.runWorkflow(ctx, svc, args[0], o, start)
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

// readInput reads a JSON flag's value (--input, --output): JSON, @FILE
// or @- for stdin. Errors name the flag. At most
// executions.MaxPayloadTextBytes are read and parsed, and the JSON may be
// at most executions.MaxPayloadBytes compact, Step Functions' quota for an
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
		src, err = io.ReadAll(io.LimitReader(r, executions.MaxPayloadTextBytes+1))
		if err != nil {
			return nil, usageError("%s %s: %v", flag, s, err)
		}
	}
	if len(src) > executions.MaxPayloadTextBytes {
		return nil, usageError("%s %s: more than %d bytes of text (the input limit, workflow.MaxPayloadTextBytes); Step Functions takes at most %d bytes (256 KiB) of JSON: pass a reference to the data (a file name or object key) instead",
			flag, abbreviate(s), executions.MaxPayloadTextBytes, executions.MaxPayloadBytes)
	}
	out, err := executions.CompactJSON(src)
	if err != nil {
		return nil, usageError("%s is not JSON: %v", flag, err)
	}
	if len(out) > executions.MaxPayloadBytes {
		return nil, usageError("%s %s: %d bytes of JSON, more than the %d bytes (256 KiB, workflow.MaxPayloadBytes) Step Functions accepts; pass a reference to the data (a file name or object key) instead",
			flag, abbreviate(s), len(out), executions.MaxPayloadBytes)
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

func (a *app) runWorkflow(ctx context.Context, svc *executions.Service, file string, o workflowRunOptions, start bool) error {
	def, err := a.loadDefinition(file)
	if err != nil {
		return err
	}
	input, err := a.readInput("--input", o.input)
	if err != nil {
		return err
	}
	run, err := svc.Start(ctx, executions.StartRequest{
		Dir: a.dir, Definition: def, Input: input, Name: o.name, StateMachine: o.stateMachine,
		Bindings: o.bindings, Mocks: o.mocks, TestCase: o.testCase, AWSEndpoint: o.awsEndpoint, ConcurrencyKey: o.key, ConcurrencyLimit: o.limit,
	})
	if err != nil {
		return err
	}
	e := run.Execution
	if start && o.detach {
		run.Detach(ctx)
		if o.json {
			return writeJSON(a.stdout, map[string]any{"id": e.ID, "executionArn": e.ARN, "startDate": awsTime(e.Created)})
		}
		fmt.Fprintln(a.stdout, e.ID)
		return nil
	}
	if !o.json && start {
		fmt.Fprintf(a.stderr, "velocity: execution %d (%s) started\n", e.ID, e.ARN)
	}
	return a.foreground(ctx, svc, run, o.json)
}

// foreground runs an execution to its end here; Ctrl-C or SIGTERM aborts
// it and the executions below it.
func (a *app) foreground(ctx context.Context, svc *executions.Service, run *executions.Run, asJSON bool) error {
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	var interrupted atomic.Bool
	go a.stopOnSignals(ctx, sigs, run, &interrupted, func() {
		// Give up waiting: every execution stays as journaled, with
		// its stop recorded, and the next workflow command aborts it.
		cancel(errors.New("interrupted twice"))
		svc.Abandon()
	})
	var progress executions.Progress
	if !asJSON {
		progress.Notify = func(format string, args ...any) { fmt.Fprintf(a.stderr, format, args...) }
	}
	e := run.Execution
	res, err := run.Wait(runCtx, progress)
	if err != nil && interrupted.Load() {
		fmt.Fprintf(a.stderr, "velocity: left execution %d as journaled, stopped; the next 'velocity workflow' command aborts it\n", e.ID)
		return &exitError{code: ExitInterrupted}
	}
	if err != nil {
		return err
	}
	if err := a.printResult(e.ID, e.Name, res, asJSON); err != nil {
		return err
	}
	switch {
	case res.Status == executions.StatusSucceeded:
		return nil
	case interrupted.Load():
		return &exitError{code: ExitInterrupted}
	}
	return &exitError{code: ExitFailed}
}

// stopOnSignals stops the execution of run at the first signal, and
// gives up waiting for it (giveUp) at the second.
func (a *app) stopOnSignals(ctx context.Context, sigs <-chan os.Signal, run *executions.Run, interrupted *atomic.Bool, giveUp func()) {
	id := run.Execution.ID
	n := 0
	for sig := range sigs {
		n++
		interrupted.Store(true)
		if n > 1 {
			giveUp()
			continue
		}
		below, err := run.Stop(ctx, "Velocity.Interrupted", "stopped by "+signalName(sig))
		if err != nil {
			fmt.Fprintf(a.stderr, "velocity: could not record the stop of execution %d: %v\n", id, err)
		}
		fmt.Fprintf(a.stderr, "velocity: stopping execution %d and %d %s it started (%s again to exit at once; the next workflow command aborts what is left)\n",
			id, below, plural(below, "execution"), signalName(sig))
	}
}

// printResult shows how an execution ended: its output on stdout, or
// with asJSON run --json's one object.
func (a *app) printResult(id int64, name string, res executions.Result, asJSON bool) error {
	if asJSON {
		return writeResult(a.stdout, res)
	}
	if res.Status != executions.StatusSucceeded {
		fmt.Fprintf(a.stderr, "velocity: execution %d (%s) %s: %s: %s\n", id, name, res.Status, res.Error, res.Cause)
		fmt.Fprintf(a.stderr, "velocity: see 'velocity workflow history %d'\n", id)
		return nil
	}
	d := res.StopTime.Sub(res.StartTime)
	fmt.Fprintf(a.stderr, "velocity: execution %d (%s) SUCCEEDED in %s\n", id, name, d.Round(time.Millisecond))
	enc := json.NewEncoder(a.stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(res.Output)
}

// signalName names a stop signal as users type it.
func signalName(sig os.Signal) string {
	if sig == syscall.SIGTERM {
		return "SIGTERM"
	}
	return "Ctrl-C"
}

// writeResult prints an execution's end as run --json's one object.
func writeResult(w interface{ Write([]byte) (int, error) }, res executions.Result) error {
	// Structs keep the documented key order: status first.
	if res.Status == executions.StatusSucceeded {
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
