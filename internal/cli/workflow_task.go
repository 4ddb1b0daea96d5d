package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/velocity-ci/velocity/internal/executions"
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
		RunE: a.withWorkflows(func(ctx context.Context, svc *executions.Service, args []string) error {
			raw, err := a.readInput("--output", output)
			if err != nil {
				return err
			}
			return svc.CompleteTask(ctx, args[0], raw)
		}),
	}
	success.Flags().StringVar(&output, "output", "{}", "the task's output: `JSON`, or @FILE")
	failure := &cobra.Command{
		Use:   "failure TOKEN",
		Short: "Fail the task with an error and a cause",
		Args:  cobra.ExactArgs(1),
		RunE: a.withWorkflows(func(ctx context.Context, svc *executions.Service, args []string) error {
			return svc.FailTask(ctx, args[0], errName, cause)
		}),
	}
	failure.Flags().StringVar(&errName, "error", "", "the error name Retry and Catch match")
	failure.Flags().StringVar(&cause, "cause", "", "the cause")
	heartbeat := &cobra.Command{
		Use:   "heartbeat TOKEN",
		Short: "Report that the task is still being worked on (resets HeartbeatSeconds)",
		Args:  cobra.ExactArgs(1),
		RunE: a.withWorkflows(func(ctx context.Context, svc *executions.Service, args []string) error {
			return svc.Heartbeat(ctx, args[0])
		}),
	}
	cmd.AddCommand(success, failure, heartbeat)
	return cmd
}
