package stepfunctions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
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
	var in startRequest
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	_, run, err := h.start(ctx, in, "")
	if err != nil {
		return nil, err
	}
	run.Background(executions.Progress{})
	return struct {
		ExecutionArn string `json:"executionArn"`
		StartDate    *epoch `json:"startDate"`
	}{run.Execution.ARN, when(run.Execution.Created)}, nil
}

// startRequest is the request of StartExecution and StartSyncExecution.
type startRequest struct {
	StateMachineArn string `json:"stateMachineArn"`
	Name            string `json:"name"`
	Input           string `json:"input"`
}

// start records an execution of the state machine a request names, of
// type typ when not empty, for the caller to run.
func (h *Handler) start(ctx context.Context, in startRequest, typ string) (store.StateMachine, *executions.Run, error) {
	if err := checkARN(in.StateMachineArn, "stateMachine"); err != nil {
		return store.StateMachine{}, nil, err
	}
	m, err := h.StateMachines.Describe(ctx, in.StateMachineArn)
	if err != nil {
		return m, nil, err
	}
	if typ != "" && executions.TypeOf(m) != typ {
		return m, nil, &apiError{"StateMachineTypeNotSupported",
			fmt.Sprintf("%s is a %s state machine; only %s ones run synchronously: start it with StartExecution", m.ARN, executions.TypeOf(m), typ),
			http.StatusBadRequest}
	}
	def, err := h.StateMachines.Definition(m)
	if err != nil {
		return m, nil, err
	}
	if in.Input == "" {
		in.Input = "{}"
	}
	input, err := executions.CompactJSON([]byte(in.Input))
	if err != nil {
		return m, nil, &apiError{"InvalidExecutionInput", "the input is not JSON: " + err.Error(), http.StatusBadRequest}
	}
	if len(input) > executions.MaxPayloadBytes {
		return m, nil, &apiError{"InvalidExecutionInput", "the input is larger than 256 KiB", http.StatusBadRequest}
	}
	run, err := h.Executions.Start(ctx, executions.StartRequest{
		Dir: h.StateMachines.Dir, Definition: def, Input: input, Name: in.Name, StateMachine: m.Name, ConcurrencyLimit: 1,
	})
	if err != nil {
		if errors.Is(err, executions.ErrInvalid) && !errors.Is(err, store.ErrExists) {
			return m, nil, &apiError{"InvalidName", err.Error(), http.StatusBadRequest}
		}
		return m, nil, err
	}
	return m, run, nil
}

// startSyncExecution runs an execution of an EXPRESS state machine and
// answers when it ends, as StartSyncExecution does. The execution is as
// durable as any other: a caller that goes away before its end stops
// the waiting, not the execution, which carries on and can be
// described.
func (h *Handler) startSyncExecution(ctx context.Context, body []byte) (any, error) {
	var in startRequest
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	m, run, err := h.start(ctx, in, executions.ExpressType)
	if err != nil {
		return nil, err
	}
	select {
	case <-run.Background(executions.Progress{}):
	case <-ctx.Done():
		return nil, &apiError{"RequestCanceled", "the caller went away; the execution carries on: " + run.Execution.ARN, http.StatusBadRequest}
	}
	e, err := h.execution(ctx, run.Execution.ARN)
	if err != nil {
		return nil, err
	}
	if !e.Status.Final() {
		return nil, &apiError{"ServiceUnavailable", "the server is shutting down; the execution resumes when it starts again: " + e.ARN, http.StatusServiceUnavailable}
	}
	out := struct {
		ExecutionArn    string         `json:"executionArn"`
		StateMachineArn string         `json:"stateMachineArn"`
		Name            string         `json:"name"`
		StartDate       *epoch         `json:"startDate"`
		StopDate        *epoch         `json:"stopDate"`
		Status          string         `json:"status"`
		Error           string         `json:"error,omitempty"`
		Cause           string         `json:"cause,omitempty"`
		Input           string         `json:"input"`
		InputDetails    dataDetails    `json:"inputDetails"`
		Output          *string        `json:"output,omitempty"`
		OutputDetails   *dataDetails   `json:"outputDetails,omitempty"`
		BillingDetails  billingDetails `json:"billingDetails"`
	}{
		ExecutionArn: e.ARN, StateMachineArn: m.ARN, Name: e.Name, StartDate: when(e.Created), StopDate: when(e.Stopped),
		Status: syncStatus(e.Status), Error: e.Error, Cause: e.Cause, Input: string(e.Input), InputDetails: dataDetails{Included: true},
		BillingDetails: billingDetails{BilledDurationInMilliseconds: e.Stopped.Sub(e.Created).Milliseconds()},
	}
	if e.Status == store.ExecutionSucceeded {
		o := string(e.Output)
		out.Output, out.OutputDetails = &o, &dataDetails{Included: true}
	}
	return out, nil
}

// syncStatus is an ended execution's status as StartSyncExecution names
// it: it knows no ABORTED, so a stopped execution FAILED (with the
// stop's error and cause).
func syncStatus(s store.ExecutionStatus) string {
	switch s {
	case store.ExecutionSucceeded, store.ExecutionTimedOut:
		return string(s)
	}
	return string(store.ExecutionFailed)
}

// dataDetails says whether a response includes an execution's data.
type dataDetails struct {
	Included bool `json:"included"`
}

// billingDetails is what AWS would bill for an express execution:
// Velocity bills nothing, but tells how long it ran.
type billingDetails struct {
	BilledDurationInMilliseconds int64 `json:"billedDurationInMilliseconds"`
	BilledMemoryUsedInMB         int64 `json:"billedMemoryUsedInMB"`
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

// getExecutionHistory pages through the events the executions service
// journals, in AWS's shape with timestamps in the protocol's epoch
// seconds; a token continues after the last event ID of its page.
func (h *Handler) getExecutionHistory(ctx context.Context, body []byte) (any, error) {
	var in struct {
		ExecutionArn string `json:"executionArn"`
		ReverseOrder bool   `json:"reverseOrder"`
		MaxResults   int    `json:"maxResults"`
		NextToken    string `json:"nextToken"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	size, err := pageSize(in.MaxResults)
	if err != nil {
		return nil, err
	}
	request := requestDigest("GetExecutionHistory", in.ExecutionArn, strconv.FormatBool(in.ReverseOrder))
	last, more, err := readIDToken(in.NextToken, request)
	if err != nil {
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
	if in.ReverseOrder {
		slices.Reverse(events)
	}
	if more {
		events = slices.DeleteFunc(events, func(ev executions.Event) bool {
			return (!in.ReverseOrder && ev.ID <= last) || (in.ReverseOrder && ev.ID >= last)
		})
	}
	var out struct {
		Events    []map[string]json.RawMessage `json:"events"`
		NextToken *string                      `json:"nextToken,omitempty"`
	}
	if len(events) > size {
		events = events[:size]
		out.NextToken = nextToken(request, strconv.FormatInt(events[size-1].ID, 10))
	}
	b, err := executions.MarshalHistory(events)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	for i, ev := range out.Events {
		ts, err := epoch(events[i].Timestamp).MarshalJSON()
		if err != nil {
			return nil, err
		}
		ev["timestamp"] = ts
	}
	if out.Events == nil {
		out.Events = []map[string]json.RawMessage{}
	}
	return out, nil
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

// listExecutions pages through a state machine's executions, newest
// first; a token continues after the last execution ID of its page, so
// executions started meanwhile do not shift the pages.
func (h *Handler) listExecutions(ctx context.Context, body []byte) (any, error) {
	var in struct {
		StateMachineArn string `json:"stateMachineArn"`
		StatusFilter    string `json:"statusFilter"`
		MaxResults      int    `json:"maxResults"`
		NextToken       string `json:"nextToken"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := checkARN(in.StateMachineArn, "stateMachine"); err != nil {
		return nil, err
	}
	size, err := pageSize(in.MaxResults)
	if err != nil {
		return nil, err
	}
	request := requestDigest("ListExecutions", in.StateMachineArn, in.StatusFilter)
	before, more, err := readIDToken(in.NextToken, request)
	if err != nil {
		return nil, err
	}
	if !more {
		before = math.MaxInt64
	}
	name := in.StateMachineArn[strings.LastIndex(in.StateMachineArn, ":")+1:]
	f := store.ExecutionFilter{StateMachine: name, Status: store.ExecutionStatus(in.StatusFilter)}
	if in.StatusFilter != "" && !slices.Contains(executions.Statuses(), f.Status) {
		return nil, validation("statusFilter %q is not an execution status", in.StatusFilter)
	}
	es, err := h.executionsBefore(ctx, f, before, size+1)
	if err != nil {
		return nil, err
	}
	var out struct {
		Executions []executionItem `json:"executions"`
		NextToken  *string         `json:"nextToken,omitempty"`
	}
	if len(es) > size {
		es = es[:size]
		out.NextToken = nextToken(request, strconv.FormatInt(es[size-1].ID, 10))
	}
	out.Executions = make([]executionItem, len(es))
	for i, e := range es {
		out.Executions[i] = executionItem{e.ARN, executions.StateMachineARN(e.StateMachine), e.Name, status(e.Status), when(e.Created), nil, e.RedriveCount}
		if e.Status.Final() {
			out.Executions[i].StopDate = when(e.Stopped)
		}
	}
	return out, nil
}

// executionsBefore lists up to n executions of f with IDs below before,
// newest first. The store lists from the newest only, so it asks for
// more, four times as many each time, until it has n or all of them.
func (h *Handler) executionsBefore(ctx context.Context, f store.ExecutionFilter, before int64, n int) ([]store.Execution, error) {
	for f.Limit = n; ; f.Limit *= 4 {
		es, err := h.Executions.List(ctx, f)
		if err != nil {
			return nil, err
		}
		all := len(es) < f.Limit
		es = slices.DeleteFunc(es, func(e store.Execution) bool { return e.ID >= before })
		if all || len(es) >= n {
			return es[:min(n, len(es))], nil
		}
	}
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
