package executions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/workflow/payload"
)

// CompleteTask completes the task that waits for token with output
// (JSON), like SendTaskSuccess. A token nobody waits for any more is an
// error saying why (TaskDoesNotExist, TaskTimedOut).
func (s *Service) CompleteTask(ctx context.Context, token string, output []byte) error {
	if _, err := payload.Decode(output); err != nil {
		return invalidf("the output is not JSON: %v", err)
	}
	return s.answer(ctx, token, store.TokenSucceeded, json.RawMessage(output), "", "")
}

// FailTask fails the task that waits for token with errName and cause,
// like SendTaskFailure.
func (s *Service) FailTask(ctx context.Context, token, errName, cause string) error {
	return s.answer(ctx, token, store.TokenFailed, nil, errName, cause)
}

// Heartbeat reports that the task that waits for token is still being
// worked on, like SendTaskHeartbeat: it resets its HeartbeatSeconds.
func (s *Service) Heartbeat(ctx context.Context, token string) error {
	if err := s.tokenLive(ctx, token); err != nil {
		return err
	}
	err := s.st.HeartbeatTaskToken(ctx, token, time.Now())
	if errors.Is(err, store.ErrNotFound) {
		return s.taskTokenGone(ctx, token)
	}
	return err
}

func (s *Service) answer(ctx context.Context, token string, status store.TokenStatus, output []byte, errName, cause string) error {
	if err := s.tokenLive(ctx, token); err != nil {
		return err
	}
	err := s.st.CompleteTaskToken(ctx, token, status, output, errName, cause, time.Now())
	if errors.Is(err, store.ErrNotFound) {
		return s.taskTokenGone(ctx, token)
	}
	return err
}

// taskTokenGone explains why a token cannot be answered, like Step
// Functions' TaskDoesNotExist and TaskTimedOut.
func (s *Service) taskTokenGone(ctx context.Context, token string) error {
	t, err := s.st.TaskToken(ctx, token)
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
func (s *Service) tokenLive(ctx context.Context, token string) error {
	t, err := s.st.TaskToken(ctx, token)
	if err != nil {
		return s.taskTokenGone(ctx, token)
	}
	e, err := s.st.Execution(ctx, t.ExecutionID)
	if err != nil {
		return err
	}
	if e.Status.Final() && t.Status == store.TokenWaiting {
		return fmt.Errorf("TaskTimedOut: execution %d (%s) of the task %s has ended %s", e.ID, e.Name, t.State, e.Status)
	}
	return nil
}
