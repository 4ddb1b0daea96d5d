package telemetry

import (
	"context"
	"strings"
	"time"

	"github.com/velocity-ci/velocity/internal/store"
)

// RunsJournal is st whose writes during runs are timed
// (velocity_journal_write_duration_seconds): the ones a run waits on.
func (m *Metrics) RunsJournal(st store.Store) store.Store { return runsJournal{st, m} }

type runsJournal struct {
	store.Store
	m *Metrics
}

func (j runsJournal) CreateRun(ctx context.Context, r store.Run, actions []store.Action) (int64, error) {
	defer j.m.wrote("create_run", time.Now())
	return j.Store.CreateRun(ctx, r, actions)
}

func (j runsJournal) FinishRun(ctx context.Context, id int64, status store.Status, reason string, at time.Time) error {
	defer j.m.wrote("finish_run", time.Now())
	return j.Store.FinishRun(ctx, id, status, reason, at)
}

func (j runsJournal) StartAttempt(ctx context.Context, a store.Attempt) error {
	defer j.m.wrote("start_attempt", time.Now())
	return j.Store.StartAttempt(ctx, a)
}

func (j runsJournal) FinishAttempt(ctx context.Context, a store.Attempt, final, allowFailure bool) error {
	defer j.m.wrote("finish_attempt", time.Now())
	return j.Store.FinishAttempt(ctx, a, final, allowFailure)
}

// RecordAttempts passes store.AttemptRecorder through, or does what it
// does with one write per attempt. Each attempt it records counts as the
// write of its own op (finish_attempt, start_attempt), timed by the one
// commit they shared: what each of them waited for.
func (j runsJournal) RecordAttempts(ctx context.Context, ends []store.AttemptEnd, started *store.Attempt) error {
	r, ok := j.Store.(store.AttemptRecorder)
	if !ok {
		for _, e := range ends {
			if err := j.FinishAttempt(ctx, e.Attempt, e.Final, e.AllowFailure); err != nil {
				return err
			}
		}
		if started == nil {
			return nil
		}
		return j.StartAttempt(ctx, *started)
	}
	began := time.Now()
	err := r.RecordAttempts(ctx, ends, started)
	for range ends {
		j.m.wrote("finish_attempt", began)
	}
	if started != nil {
		j.m.wrote("start_attempt", began)
	}
	return err
}

func (j runsJournal) SetActions(ctx context.Context, runID int64, keys []store.Key, status store.Status, reason string, at time.Time) error {
	defer j.m.wrote("set_actions", time.Now())
	return j.Store.SetActions(ctx, runID, keys, status, reason, at)
}

func (j runsJournal) SetOutputs(ctx context.Context, runID int64, k store.Key, files []store.Output) error {
	defer j.m.wrote("set_outputs", time.Now())
	return j.Store.SetOutputs(ctx, runID, k, files)
}

func (j runsJournal) SaveResult(ctx context.Context, r store.Result) error {
	defer j.m.wrote("save_result", time.Now())
	return j.Store.SaveResult(ctx, r)
}

// WorkflowsJournal is st whose event appends are timed and whose
// entered states are counted (velocity_workflow_transitions_total): every
// event of an execution reaches the journal through AppendEvents.
func (m *Metrics) WorkflowsJournal(st store.Workflows) store.Workflows {
	return workflowsJournal{st, m}
}

type workflowsJournal struct {
	store.Workflows
	m *Metrics
}

func (j workflowsJournal) AppendEvents(ctx context.Context, executionID int64, events []store.Event) error {
	began := time.Now()
	err := j.Workflows.AppendEvents(ctx, executionID, events)
	j.m.wrote("append_events", began)
	if err != nil {
		return err
	}
	for _, e := range events {
		// TaskStateEntered, MapStateEntered, ...: one per transition
		// into a state.
		if t, ok := strings.CutSuffix(e.Type, "StateEntered"); ok {
			j.m.transitions.WithLabelValues(t).Inc()
		}
	}
	return nil
}
