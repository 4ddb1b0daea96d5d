package tracing

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/velocity-ci/velocity/internal/store"
)

// Journal is where the actions of a finished run and their attempts
// are read.
type Journal interface {
	Actions(ctx context.Context, runID int64) ([]store.Action, error)
	Attempts(ctx context.Context, runID int64) ([]store.Attempt, error)
}

// Finished records run, which has ended, with its actions as j journaled
// them; runErr is set when the run stopped for a reason of Velocity's own
// (the journal could not be written). It reads the journal once and
// leaves the sending to the background.
func (e *Exporter) Finished(ctx context.Context, j Journal, run store.Run, runErr error) {
	actions, err := j.Actions(ctx, run.ID)
	if err != nil {
		// The run's span alone still says how the run went.
		e.log.Warn("traces: the run's actions cannot be read", "run", run.ID, "err", err)
	}
	attempts, err := j.Attempts(ctx, run.ID)
	if err != nil {
		e.log.Warn("traces: the run's attempts cannot be read", "run", run.ID, "err", err)
	}
	e.Record(run, actions, attempts, runErr)
}

// Record turns a finished run and its actions into a trace: a span for
// the run, a child for each stage, and under it a child for each action,
// each with the start and finish times the journal recorded. Each of an
// action's attempts is an event of its span, at the attempt's end.
func (e *Exporter) Record(run store.Run, actions []store.Action, attempts []store.Attempt, runErr error) {
	runEnd := run.Finished
	if runEnd.IsZero() {
		runEnd = time.Now()
	}
	ctx, span := e.tracer.Start(context.Background(), "run "+run.Project,
		trace.WithNewRoot(), trace.WithTimestamp(run.Created), trace.WithAttributes(runAttributes(run)...))
	switch {
	case runErr != nil:
		span.SetStatus(codes.Error, runErr.Error())
	case failing(run.Status):
		span.SetStatus(codes.Error, cmp.Or(run.Reason, string(run.Status)))
	}
	// A stage that never started (every action skipped) is drawn where
	// the previous one ended.
	tries := map[store.Key][]store.Attempt{}
	for _, a := range attempts {
		k := store.Key{Stage: a.Stage, Name: a.Action}
		tries[k] = append(tries[k], a)
	}
	prev := run.Created
	for _, st := range stages(actions) {
		prev = e.stage(ctx, run, st, tries, prev)
	}
	span.End(trace.WithTimestamp(runEnd))
}

// stage records the span of one stage and its actions' spans, and
// returns when the stage ended.
func (e *Exporter) stage(ctx context.Context, run store.Run, actions []store.Action, tries map[store.Key][]store.Attempt, prev time.Time) time.Time {
	start, end := bounds(actions, prev)
	first := actions[0]
	ctx, span := e.tracer.Start(ctx, "stage "+first.Stage, trace.WithTimestamp(start), trace.WithAttributes(
		attribute.Int64("velocity.run.id", run.ID),
		attribute.String("velocity.stage", first.Stage),
		attribute.Int("velocity.stage.index", first.StageIndex),
	))
	for _, a := range actions {
		if failing(a.Status) && !a.AllowFailure {
			span.SetStatus(codes.Error, fmt.Sprintf("%s/%s %s", a.Stage, a.Name, a.Status))
			break
		}
	}
	for _, a := range actions {
		e.action(ctx, run, a, tries[a.Key()], start)
	}
	span.End(trace.WithTimestamp(end))
	return end
}

func (e *Exporter) action(ctx context.Context, run store.Run, a store.Action, attempts []store.Attempt, stageStart time.Time) {
	start := first(a.Started, a.Finished, stageStart)
	end := first(a.Finished, start)
	if end.Before(start) {
		end = start
	}
	_, span := e.tracer.Start(ctx, "action "+a.Stage+"/"+a.Name, trace.WithTimestamp(start),
		trace.WithAttributes(actionAttributes(run, a)...))
	if failing(a.Status) {
		span.SetStatus(codes.Error, cmp.Or(a.Reason, string(a.Status)))
	}
	for _, t := range attempts {
		at := first(t.Finished, t.Started, end)
		kv := []attribute.KeyValue{
			attribute.Int("velocity.attempt", t.N),
			attribute.String("velocity.attempt.status", string(t.Status)),
			attribute.Int("velocity.attempt.exit_code", t.ExitCode),
		}
		if !t.Started.IsZero() && !t.Finished.IsZero() {
			kv = append(kv, attribute.Float64("velocity.attempt.seconds", t.Finished.Sub(t.Started).Seconds()))
		}
		if t.Reason != "" {
			kv = append(kv, attribute.String("velocity.attempt.reason", t.Reason))
		}
		span.AddEvent("attempt", trace.WithTimestamp(at), trace.WithAttributes(kv...))
	}
	span.End(trace.WithTimestamp(end))
}

func runAttributes(run store.Run) []attribute.KeyValue {
	kv := []attribute.KeyValue{
		attribute.String("velocity.project", run.Project),
		attribute.Int64("velocity.run.id", run.ID),
		attribute.String("velocity.run.status", string(run.Status)),
		attribute.String("velocity.commit", run.Commit),
		attribute.String("velocity.branch", run.Branch),
		attribute.Bool("velocity.dirty", run.Dirty),
		// The names of OpenTelemetry's CI/CD and VCS conventions, for
		// tools that know them.
		attribute.String("cicd.pipeline.name", run.Project),
		attribute.String("cicd.pipeline.run.id", fmt.Sprint(run.ID)),
		attribute.String("vcs.ref.head.revision", run.Commit),
		attribute.String("vcs.ref.head.name", run.Branch),
	}
	if run.Trigger != "" {
		kv = append(kv, attribute.String("velocity.trigger", run.Trigger))
	}
	if run.Reason != "" {
		kv = append(kv, attribute.String("velocity.run.reason", run.Reason))
	}
	if run.Selection.Partial() {
		kv = append(kv, attribute.Bool("velocity.run.partial", true))
	}
	return kv
}

func actionAttributes(run store.Run, a store.Action) []attribute.KeyValue {
	cached := a.Status == store.Cached || a.CachedFrom != 0
	kv := []attribute.KeyValue{
		attribute.Int64("velocity.run.id", run.ID),
		attribute.String("velocity.action", a.Stage+"/"+a.Name),
		attribute.String("velocity.action.kind", string(a.Kind)),
		attribute.String("velocity.action.status", string(a.Status)),
		attribute.Int("velocity.action.attempts", a.Attempts),
		attribute.Bool("velocity.action.cached", cached),
		attribute.String("cicd.pipeline.task.name", a.Stage+"/"+a.Name),
	}
	if ran(a.Status) {
		kv = append(kv, attribute.Int("velocity.action.exit_code", a.ExitCode))
	}
	if a.CachedFrom != 0 {
		kv = append(kv, attribute.Int64("velocity.action.cached_from", a.CachedFrom))
	}
	if a.CacheKey != "" {
		kv = append(kv, attribute.String("velocity.action.cache_key", a.CacheKey))
	}
	if len(a.Needs) > 0 {
		kv = append(kv, attribute.StringSlice("velocity.action.needs", a.Needs))
	}
	if a.AllowFailure {
		kv = append(kv, attribute.Bool("velocity.action.allow_failure", true))
	}
	if a.Reason != "" {
		kv = append(kv, attribute.String("velocity.action.reason", a.Reason))
	}
	return kv
}

// stages groups actions by stage, in the stages' order.
func stages(actions []store.Action) [][]store.Action {
	sorted := slices.Clone(actions)
	slices.SortStableFunc(sorted, func(a, b store.Action) int { return cmp.Compare(a.StageIndex, b.StageIndex) })
	var out [][]store.Action
	for i, a := range sorted {
		if i == 0 || a.StageIndex != sorted[i-1].StageIndex {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], a)
	}
	return out
}

// bounds is when a stage's first action started and its last finished;
// a stage none of whose actions ran starts and ends at the first time
// recorded for them, else at prev.
func bounds(actions []store.Action, prev time.Time) (start, end time.Time) {
	for _, a := range actions {
		if t := first(a.Started, a.Finished); !t.IsZero() && (start.IsZero() || t.Before(start)) {
			start = t
		}
		if t := a.Finished; t.After(end) {
			end = t
		}
	}
	if start.IsZero() {
		start = prev
	}
	if end.Before(start) {
		end = start
	}
	return start, end
}

// first is the first of ts that is set.
func first(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}

// failing reports whether s is a final status that is not a success.
func failing(s store.Status) bool {
	return s == store.Failed || s == store.Cancelled || s == store.Interrupted
}

// ran reports whether an action with status s executed, and so has an
// exit code worth reporting.
func ran(s store.Status) bool {
	return s == store.Succeeded || s == store.Failed || s == store.Cancelled || s == store.Interrupted
}
