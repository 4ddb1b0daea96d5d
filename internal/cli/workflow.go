package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/velocity-ci/velocity/internal/executions"
	"github.com/velocity-ci/velocity/internal/home"
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
// the executions service, first gets executions whose owner died going
// again in the background, and maps the service's errors to exit codes.
func (a *app) withWorkflows(fn func(ctx context.Context, svc *executions.Service, args []string) error) func(*cobra.Command, []string) error {
	return a.withHome(func(ctx context.Context, h *home.Home, args []string) error {
		svc := h.Executions(ctx)
		defer svc.Close()
		svc.ResumeInBackground(ctx)
		return workflowError(fn(ctx, svc, args), h.Dir)
	})
}

// workflowError words the executions service's errors for the command
// line: mistakes of the user's exit 2, with hints at the commands that
// help.
func workflowError(err error, dataDir string) error {
	var ee *exitError
	if err == nil || errors.As(err, &ee) {
		return err
	}
	var fe *executions.FindError
	if errors.As(err, &fe) {
		switch fe.Reason {
		case executions.NoExecutions:
			return usageError("no workflow executions yet in %s: start one with 'velocity workflow run FILE'", dataDir)
		case executions.NoSuchID:
			return usageError("execution %d not found in %s (see 'velocity workflow list')", fe.ID, dataDir)
		case executions.NoSuchARN:
			return usageError("execution %s not found in %s (see 'velocity workflow list')", fe.Ref, dataDir)
		case executions.Ambiguous:
			return usageError("several executions are named %q (of different state machines): give the number or the ARN", fe.Ref)
		}
		return usageError("no execution numbered or named %q (see 'velocity workflow list')", fe.Ref)
	}
	if errors.Is(err, executions.ErrInvalid) {
		return &exitError{code: ExitUsage, err: err}
	}
	return err
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
func (a *app) loadDefinition(file string) (*executions.Definition, error) {
	def, err := executions.LoadDefinition(a.dir, file)
	var de *executions.DefinitionError
	if errors.As(err, &de) {
		printErrors(a.stderr, de.Problems)
		fmt.Fprintf(a.stderr, "velocity: %s has %d %s\n", file, len(de.Problems), plural(len(de.Problems), "error"))
		return nil, &exitError{code: ExitUsage}
	}
	if err != nil {
		return nil, workflowError(err, "")
	}
	for _, w := range def.Warnings {
		fmt.Fprintf(a.stderr, "warning: %s\n", w)
	}
	return def, nil
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
			def, err := a.loadDefinition(args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "%s is valid: %d %s\n", args[0], def.States, plural(def.States, "state"))
			return nil
		},
	}
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
