package task

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/workflow/asl"
)

// Tokens keeps task tokens and their outcomes where another process
// (`velocity workflow task success|failure|heartbeat`) can complete them;
// store.Workflows implements it.
type Tokens interface {
	CreateTaskToken(ctx context.Context, t store.TaskToken) error
	TaskToken(ctx context.Context, token string) (store.TaskToken, error)
}

// waitForToken is the callback pattern: record the token, run the base
// resource if there is a local one (it hands the token on, in its input
// or $VELOCITY_TASK_TOKEN), then wait until the token is completed.
func (r *Resources) waitForToken(ctx context.Context, req Request, base string) (any, error) {
	if r.Tokens == nil {
		return nil, asl.Failf(asl.ErrTaskFailed, "state %s: .waitForTaskToken needs the workflow journal", req.StateName)
	}
	if req.TaskToken == "" {
		return nil, asl.Failf(asl.ErrRuntime, "state %s: no task token for %s", req.StateName, req.Resource)
	}
	err := r.Tokens.CreateTaskToken(ctx, store.TaskToken{Token: req.TaskToken, ExecutionID: r.ExecutionID, State: req.StateName, Created: time.Now()})
	// A resumed task reuses its token: already recorded, maybe completed.
	if err != nil && !errors.Is(err, store.ErrExists) {
		return nil, fmt.Errorf("record task token: %w", err)
	}
	if t, err := r.Tokens.TaskToken(ctx, req.TaskToken); err == nil && t.Status == store.TokenWaiting && !r.isAWSOnly(base) {
		// The base resource only delivers the token; its result is not the task's.
		if _, err := r.invoke(ctx, req, base); err != nil {
			return nil, err
		}
	}
	interval := r.PollInterval
	if interval <= 0 {
		interval = 100 * time.Millisecond
	}
	var lastBeat time.Time
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		t, err := r.Tokens.TaskToken(ctx, req.TaskToken)
		if err != nil {
			return nil, fmt.Errorf("task token of %s: %w", req.StateName, err)
		}
		switch t.Status {
		case store.TokenSucceeded:
			v, err := decode(t.Output)
			if err != nil {
				return nil, asl.Failf(asl.ErrRuntime, "the output sent for the task token of %s is not JSON: %v", req.StateName, err)
			}
			return v, nil
		case store.TokenFailed:
			return nil, &asl.Failure{Name: t.Error, Cause: t.Cause}
		}
		if t.Heartbeat.After(lastBeat) {
			lastBeat = t.Heartbeat
			req.Heartbeat()
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
}

// isAWSOnly reports a base resource with no local meaning, no binding
// and no AWS endpoint to call (sqs:sendMessage, sns:publish, ...): the
// token is only waited for, and
// whoever completes it reads it from `velocity workflow describe`.
func (r *Resources) isAWSOnly(base string) bool {
	if _, ok := r.Bindings.lookup(base); ok {
		return false
	}
	if r.AWS != nil && r.AWS.Handles(base) {
		return false
	}
	switch {
	case base == CommandResource, base == HTTPResource,
		strings.HasPrefix(base, lambdaInvoke), strings.HasPrefix(base, startExecution),
		strings.HasPrefix(base, "arn:aws:lambda:"):
		return false
	}
	return true
}
