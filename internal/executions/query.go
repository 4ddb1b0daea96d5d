package executions

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/velocity-ci/velocity/internal/store"
)

// Find resolves a reference to an execution: its number, ARN or name,
// or "last" for the newest. One that names no single execution is a
// *FindError.
func (s *Service) Find(ctx context.Context, ref string) (store.Execution, error) {
	if ref == "last" {
		es, err := s.st.Executions(ctx, store.ExecutionFilter{Limit: 1})
		if err != nil {
			return store.Execution{}, err
		}
		if len(es) == 0 {
			return store.Execution{}, &FindError{Ref: ref, Reason: NoExecutions}
		}
		return es[0], nil
	}
	if id, err := strconv.ParseInt(ref, 10, 64); err == nil {
		e, err := s.st.Execution(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return e, &FindError{Ref: ref, ID: id, Reason: NoSuchID}
		}
		return e, err
	}
	if strings.HasPrefix(ref, "arn:") {
		e, err := s.st.ExecutionByARN(ctx, ref)
		if errors.Is(err, store.ErrNotFound) {
			return e, &FindError{Ref: ref, Reason: NoSuchARN}
		}
		return e, err
	}
	found, err := s.st.Executions(ctx, store.ExecutionFilter{Name: ref, Limit: 2})
	if err != nil {
		return store.Execution{}, err
	}
	switch len(found) {
	case 0:
		return store.Execution{}, &FindError{Ref: ref, Reason: NoSuchName}
	case 1:
		return found[0], nil
	}
	return store.Execution{}, &FindError{Ref: ref, Reason: Ambiguous}
}

// Description is an execution with the tasks that wait for their token.
type Description struct {
	store.Execution
	// Waiting are the task tokens its .waitForTaskToken tasks wait for,
	// in the order they were created; none once it ended.
	Waiting []store.TaskToken
}

// Describe gives an execution with the task tokens it waits for.
func (s *Service) Describe(ctx context.Context, e store.Execution) (Description, error) {
	tokens, err := s.st.TaskTokens(ctx, e.ID)
	if err != nil {
		return Description{}, err
	}
	d := Description{Execution: e}
	for _, t := range tokens {
		// Tokens of an execution that ended wait for nothing.
		if t.Status == store.TokenWaiting && !e.Status.Final() {
			d.Waiting = append(d.Waiting, t)
		}
	}
	return d, nil
}

// History gives an execution's events in order.
func (s *Service) History(ctx context.Context, id int64) ([]Event, error) {
	return history(ctx, s.st, id)
}

// Statuses are the statuses an execution may have, as List filters them.
func Statuses() []store.ExecutionStatus {
	return []store.ExecutionStatus{store.ExecutionPending, store.ExecutionRunning, store.ExecutionSucceeded,
		store.ExecutionFailed, store.ExecutionTimedOut, store.ExecutionAborted}
}

// List lists executions, newest first.
func (s *Service) List(ctx context.Context, f store.ExecutionFilter) ([]store.Execution, error) {
	return s.st.Executions(ctx, f)
}
