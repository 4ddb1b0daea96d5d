package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/workflow/payload"
)

func (a *app) workflowTaskCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "task",
		Short: "Complete a .waitForTaskToken task: success, failure or heartbeat",
		Long: `Answer a task that waits for its task token (Resource ending in
.waitForTaskToken), from any process: like SendTaskSuccess, SendTaskFailure
and SendTaskHeartbeat. The token is what the task handed on ($$.Task.Token,
$VELOCITY_TASK_TOKEN for commands); 'workflow describe ID' lists waiting ones.`,
	}
	var output, errName, cause string
	success := &cobra.Command{
		Use:   "success TOKEN",
		Short: "Complete the task with an output",
		Args:  cobra.ExactArgs(1),
		RunE: a.withWorkflows(func(ctx context.Context, rt *workflowRuntime, args []string) error {
			raw, err := a.readInput("--output", output)
			if err != nil {
				return err
			}
			return a.completeToken(ctx, rt, args[0], store.TokenSucceeded, raw, "", "")
		}),
	}
	success.Flags().StringVar(&output, "output", "{}", "the task's output: `JSON`, or @FILE")
	failure := &cobra.Command{
		Use:   "failure TOKEN",
		Short: "Fail the task with an error and a cause",
		Args:  cobra.ExactArgs(1),
		RunE: a.withWorkflows(func(ctx context.Context, rt *workflowRuntime, args []string) error {
			return a.completeToken(ctx, rt, args[0], store.TokenFailed, nil, errName, cause)
		}),
	}
	failure.Flags().StringVar(&errName, "error", "", "the error name Retry and Catch match")
	failure.Flags().StringVar(&cause, "cause", "", "the cause")
	heartbeat := &cobra.Command{
		Use:   "heartbeat TOKEN",
		Short: "Report that the task is still being worked on (resets HeartbeatSeconds)",
		Args:  cobra.ExactArgs(1),
		RunE: a.withWorkflows(func(ctx context.Context, rt *workflowRuntime, args []string) error {
			if err := tokenLive(ctx, rt, args[0]); err != nil {
				return err
			}
			err := rt.h.store.HeartbeatTaskToken(ctx, args[0], time.Now())
			if errors.Is(err, store.ErrNotFound) {
				return taskTokenGone(ctx, rt, args[0])
			}
			return err
		}),
	}
	cmd.AddCommand(success, failure, heartbeat)
	return cmd
}

func (a *app) completeToken(ctx context.Context, rt *workflowRuntime, token string, status store.TokenStatus, output []byte, errName, cause string) error {
	if output != nil {
		if _, err := payload.Decode(output); err != nil {
			return usageError("--output is not JSON: %v", err)
		}
		output = json.RawMessage(output)
	}
	if err := tokenLive(ctx, rt, token); err != nil {
		return err
	}
	err := rt.h.store.CompleteTaskToken(ctx, token, status, output, errName, cause, time.Now())
	if errors.Is(err, store.ErrNotFound) {
		return taskTokenGone(ctx, rt, token)
	}
	return err
}

// taskTokenGone explains why a token cannot be answered (exit 1, like
// Step Functions' TaskDoesNotExist and TaskTimedOut).
func taskTokenGone(ctx context.Context, rt *workflowRuntime, token string) error {
	t, err := rt.h.store.TaskToken(ctx, token)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("TaskDoesNotExist: no task waits for token %q (see 'velocity workflow describe ID')", token)
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("TaskTimedOut: the task %s of execution %d was already completed (%s)", t.State, t.ExecutionID, t.Status)
}

// tokenLive refuses a token whose execution has ended: its task timed
// out or was stopped, and nobody waits for the answer any more.
func tokenLive(ctx context.Context, rt *workflowRuntime, token string) error {
	t, err := rt.h.store.TaskToken(ctx, token)
	if err != nil {
		return taskTokenGone(ctx, rt, token)
	}
	e, err := rt.h.store.Execution(ctx, t.ExecutionID)
	if err != nil {
		return err
	}
	if e.Status.Final() && t.Status == store.TokenWaiting {
		return fmt.Errorf("TaskTimedOut: execution %d (%s) of the task %s has ended %s", e.ID, e.Name, t.State, e.Status)
	}
	return nil
}
