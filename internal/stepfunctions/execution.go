package stepfunctions

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/velocity-ci/velocity/internal/executions"
	"github.com/velocity-ci/velocity/internal/store"
)

// executionRef is the request of the actions that name an execution.
type executionRef struct {
	ExecutionArn string `json:"executionArn"`
}

// execution finds the execution an ARN names.
func (h *Handler) execution(ctx context.Context, arn string) (store.Execution, error) {
	if err := checkARN(arn, "execution"); err != nil {
		return store.Execution{}, err
	}
	e, err := h.Executions.Find(ctx, arn)
	var fe *executions.FindError
	if errors.As(err, &fe) {
		return e, &apiError{"ExecutionDoesNotExist", "execution does not exist: " + arn, http.StatusBadRequest}
	}
	return e, err
}

// status is an execution's status as Step Functions names it: one
// waiting for its concurrency slot is RUNNING already.
func status(s store.ExecutionStatus) string {
	if s == store.ExecutionPending {
		return string(store.ExecutionRunning)
	}
	return string(s)
}

func (h *Handler) startExecution(ctx context.Context, body []byte) (any, error) {
	var in struct {
		StateMachineArn string `json:"stateMachineArn"`
		Name            string `json:"name"`
		Input           string `json:"input"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := checkARN(in.StateMachineArn, "stateMachine"); err != nil {
		return nil, err
	}
	m, err := h.StateMachines.Describe(ctx, in.StateMachineArn)
	if err != nil {
		return nil, err
	}
	def, err := h.StateMachines.Definition(m)
	if err != nil {
		return nil, err
	}
	if in.Input == "" {
		in.Input = "{}"
	}
	input, err := executions.CompactJSON([]byte(in.Input))
	if err != nil {
		return nil, &apiError{"InvalidExecutionInput", "the input is not JSON: " + err.Error(), http.StatusBadRequest}
	}
	if len(input) > executions.MaxPayloadBytes {
		return nil, &apiError{"InvalidExecutionInput", "the input is larger than 256 KiB", http.StatusBadRequest}
	}
	run, err := h.Executions.Start(ctx, executions.StartRequest{
		Dir: h.StateMachines.Dir, Definition: def, Input: input, Name: in.Name, StateMachine: m.Name, ConcurrencyLimit: 1,
	})
	if err != nil {
		if errors.Is(err, executions.ErrInvalid) && !errors.Is(err, store.ErrExists) {
			return nil, &apiError{"InvalidName", err.Error(), http.StatusBadRequest}
		}
		return nil, err
	}
	run.Background(executions.Progress{})
	return struct {
		ExecutionArn string `json:"executionArn"`
		StartDate    *epoch `json:"startDate"`
	}{run.Execution.ARN, when(run.Execution.Created)}, nil
}

func (h *Handler) describeExecution(ctx context.Context, body []byte) (any, error) {
	var in executionRef
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	e, err := h.execution(ctx, in.ExecutionArn)
	if err != nil {
		return nil, err
	}
	out := struct {
		ExecutionArn    string  `json:"executionArn"`
		StateMachineArn string  `json:"stateMachineArn"`
		Name            string  `json:"name"`
		Status          string  `json:"status"`
		StartDate       *epoch  `json:"startDate"`
		StopDate        *epoch  `json:"stopDate,omitempty"`
		Input           string  `json:"input"`
		Output          *string `json:"output,omitempty"`
		Error           string  `json:"error,omitempty"`
		Cause           string  `json:"cause,omitempty"`
		RedriveCount    int     `json:"redriveCount"`
		RedriveDate     *epoch  `json:"redriveDate,omitempty"`
	}{
		ExecutionArn: e.ARN, StateMachineArn: executions.StateMachineARN(e.StateMachine), Name: e.Name,
		Status: status(e.Status), StartDate: when(e.Created), Input: string(e.Input),
		Error: e.Error, Cause: e.Cause, RedriveCount: e.RedriveCount, RedriveDate: when(e.Redriven),
	}
	if e.Status.Final() {
		out.StopDate = when(e.Stopped)
	}
	if e.Status == store.ExecutionSucceeded {
		o := string(e.Output)
		out.Output = &o
	}
	return out, nil
}

// getExecutionHistory gives every event at once (no nextToken): the
// events are those the executions service journals, in AWS's shape with
// timestamps in the protocol's epoch seconds.
func (h *Handler) getExecutionHistory(ctx context.Context, body []byte) (any, error) {
	var in struct {
		ExecutionArn string `json:"executionArn"`
		ReverseOrder bool   `json:"reverseOrder"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	e, err := h.execution(ctx, in.ExecutionArn)
	if err != nil {
		return nil, err
	}
	events, err := h.Executions.History(ctx, e.ID)
	if err != nil {
		return nil, err
	}
	b, err := executions.MarshalHistory(events)
	if err != nil {
		return nil, err
	}
	var hist struct {
		Events []map[string]json.RawMessage `json:"events"`
	}
	if err := json.Unmarshal(b, &hist); err != nil {
		return nil, err
	}
	for i, ev := range hist.Events {
		ts, err := epoch(events[i].Timestamp).MarshalJSON()
		if err != nil {
			return nil, err
		}
		ev["timestamp"] = ts
	}
	if in.ReverseOrder {
		slices.Reverse(hist.Events)
	}
	if hist.Events == nil {
		hist.Events = []map[string]json.RawMessage{}
	}
	return hist, nil
}

type executionItem struct {
	ExecutionArn    string `json:"executionArn"`
	StateMachineArn string `json:"stateMachineArn"`
	Name            string `json:"name"`
	Status          string `json:"status"`
	StartDate       *epoch `json:"startDate"`
	StopDate        *epoch `json:"stopDate,omitempty"`
	RedriveCount    int    `json:"redriveCount"`
}

// listExecutions lists a state machine's executions, newest first, up
// to maxResults (default 100, at most 1000) with no nextToken.
func (h *Handler) listExecutions(ctx context.Context, body []byte) (any, error) {
	var in struct {
		StateMachineArn string `json:"stateMachineArn"`
		StatusFilter    string `json:"statusFilter"`
		MaxResults      int    `json:"maxResults"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := checkARN(in.StateMachineArn, "stateMachine"); err != nil {
		return nil, err
	}
	if in.MaxResults < 0 || in.MaxResults > 1000 {
		return nil, validation("maxResults %d is not between 0 and 1000", in.MaxResults)
	}
	name := in.StateMachineArn[strings.LastIndex(in.StateMachineArn, ":")+1:]
	f := store.ExecutionFilter{StateMachine: name, Status: store.ExecutionStatus(in.StatusFilter), Limit: in.MaxResults}
	if in.StatusFilter != "" && !slices.Contains(executions.Statuses(), f.Status) {
		return nil, validation("statusFilter %q is not an execution status", in.StatusFilter)
	}
	es, err := h.Executions.List(ctx, f)
	if err != nil {
		return nil, err
	}
	items := make([]executionItem, len(es))
	for i, e := range es {
		items[i] = executionItem{e.ARN, executions.StateMachineARN(e.StateMachine), e.Name, status(e.Status), when(e.Created), nil, e.RedriveCount}
		if e.Status.Final() {
			items[i].StopDate = when(e.Stopped)
		}
	}
	return struct {
		Executions []executionItem `json:"executions"`
	}{items}, nil
}

func (h *Handler) stopExecution(ctx context.Context, body []byte) (any, error) {
	var in struct {
		ExecutionArn string `json:"executionArn"`
		Error        string `json:"error"`
		Cause        string `json:"cause"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	e, err := h.execution(ctx, in.ExecutionArn)
	if err != nil {
		return nil, err
	}
	e, err = h.Executions.Stop(ctx, e, in.Error, in.Cause)
	if err != nil {
		return nil, err
	}
	stopped := e.Stopped
	if stopped.IsZero() {
		stopped = time.Now()
	}
	return struct {
		StopDate *epoch `json:"stopDate"`
	}{when(stopped)}, nil
}

func (h *Handler) redriveExecution(ctx context.Context, body []byte) (any, error) {
	var in executionRef
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	e, err := h.execution(ctx, in.ExecutionArn)
	if err != nil {
		return nil, err
	}
	run, err := h.Executions.Redrive(ctx, e)
	if errors.Is(err, executions.ErrInvalid) {
		return nil, &apiError{"ExecutionNotRedrivable", err.Error(), http.StatusBadRequest}
	}
	if err != nil {
		return nil, err
	}
	run.Background(executions.Progress{})
	return struct {
		RedriveDate *epoch `json:"redriveDate"`
	}{when(run.Execution.Redriven)}, nil
}

func (h *Handler) sendTaskSuccess(ctx context.Context, body []byte) (any, error) {
	var in struct {
		TaskToken string `json:"taskToken"`
		Output    string `json:"output"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := h.Executions.CompleteTask(ctx, in.TaskToken, []byte(in.Output)); err != nil {
		if errors.Is(err, executions.ErrInvalid) {
			return nil, &apiError{"InvalidOutput", err.Error(), http.StatusBadRequest}
		}
		return nil, err
	}
	return struct{}{}, nil
}

func (h *Handler) sendTaskFailure(ctx context.Context, body []byte) (any, error) {
	var in struct {
		TaskToken string `json:"taskToken"`
		Error     string `json:"error"`
		Cause     string `json:"cause"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := h.Executions.FailTask(ctx, in.TaskToken, in.Error, in.Cause); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

func (h *Handler) sendTaskHeartbeat(ctx context.Context, body []byte) (any, error) {
	var in struct {
		TaskToken string `json:"taskToken"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := h.Executions.Heartbeat(ctx, in.TaskToken); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}
