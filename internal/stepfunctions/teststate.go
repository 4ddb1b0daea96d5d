package stepfunctions

import (
	"context"
	"errors"
	"net/http"

	"github.com/velocity-ci/velocity/internal/executions"
	"github.com/velocity-ci/velocity/internal/workflow"
)

// testState runs one state as TestState does, through the executions
// service: a Task's local command runs where those of the state
// machines created through the API do.
func (h *Handler) testState(ctx context.Context, body []byte) (any, error) {
	var in struct {
		Definition      string `json:"definition"`
		RoleArn         string `json:"roleArn"`
		Input           string `json:"input"`
		InspectionLevel string `json:"inspectionLevel"`
		RevealSecrets   bool   `json:"revealSecrets"`
		Variables       string `json:"variables"`
		StateName       string `json:"stateName"`
		Context         string `json:"context"`
		Mock            *struct {
			Result      *string `json:"result"`
			ErrorOutput *struct {
				Error string `json:"error"`
				Cause string `json:"cause"`
			} `json:"errorOutput"`
		} `json:"mock"`
		StateConfiguration *struct {
			RetrierRetryCount int `json:"retrierRetryCount"`
		} `json:"stateConfiguration"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	switch in.InspectionLevel {
	case "", "INFO", "DEBUG", "TRACE":
	default:
		return nil, validation("inspectionLevel %q is not INFO, DEBUG or TRACE", in.InspectionLevel)
	}
	if in.Definition == "" {
		return nil, validation("definition is required")
	}
	if in.Context != "" {
		return nil, validation("context is not supported: the state sees the context object of a test execution")
	}
	req := executions.TestStateRequest{
		Definition: []byte(in.Definition), StateName: in.StateName, Input: []byte(in.Input),
		Variables: []byte(in.Variables), Dir: h.StateMachines.Dir,
	}
	if m := in.Mock; m != nil {
		switch {
		case m.ErrorOutput != nil && m.Result == nil:
			req.Mock = &executions.TestMock{Error: m.ErrorOutput.Error, Cause: m.ErrorOutput.Cause}
			if req.Mock.Error == "" {
				return nil, validation("mock.errorOutput.error is required")
			}
		case m.Result != nil && m.ErrorOutput == nil:
			req.Mock = &executions.TestMock{Result: []byte(*m.Result)}
		default:
			return nil, validation("mock takes either result or errorOutput")
		}
	}
	if c := in.StateConfiguration; c != nil {
		if c.RetrierRetryCount < 0 {
			return nil, validation("stateConfiguration.retrierRetryCount %d is negative", c.RetrierRetryCount)
		}
		req.RetrierRetryCount = c.RetrierRetryCount
	}
	res, err := h.Executions.TestState(ctx, req)
	if err != nil {
		if errors.Is(err, executions.ErrInvalid) && !isDefinitionError(err) {
			return nil, &apiError{"ValidationException", err.Error(), http.StatusBadRequest}
		}
		return nil, err
	}
	out := testStateOutput{Status: res.Status, Error: res.Error, Cause: res.Cause}
	if res.Status == workflow.TestSucceeded || res.Status == workflow.TestCaughtError {
		out.Output, out.NextState = &res.Output, res.NextState
	}
	out.InspectionData = inspection(res.Inspection, in.InspectionLevel == "DEBUG" || in.InspectionLevel == "TRACE")
	return out, nil
}

type testStateOutput struct {
	Output         *string         `json:"output,omitempty"`
	Error          string          `json:"error,omitempty"`
	Cause          string          `json:"cause,omitempty"`
	InspectionData *inspectionData `json:"inspectionData,omitempty"`
	NextState      string          `json:"nextState,omitempty"`
	Status         string          `json:"status"`
}

type inspectionData struct {
	Input               string        `json:"input,omitempty"`
	AfterInputPath      string        `json:"afterInputPath,omitempty"`
	AfterParameters     string        `json:"afterParameters,omitempty"`
	AfterArguments      string        `json:"afterArguments,omitempty"`
	Result              string        `json:"result,omitempty"`
	AfterResultSelector string        `json:"afterResultSelector,omitempty"`
	AfterResultPath     string        `json:"afterResultPath,omitempty"`
	Variables           string        `json:"variables,omitempty"`
	ErrorDetails        *errorDetails `json:"errorDetails,omitempty"`
}

type errorDetails struct {
	CatchIndex                  *int `json:"catchIndex,omitempty"`
	RetryIndex                  *int `json:"retryIndex,omitempty"`
	RetryBackoffIntervalSeconds *int `json:"retryBackoffIntervalSeconds,omitempty"`
}

// inspection is a test's inspection data: at INFO only which Retrier
// or Catcher took a failure, at DEBUG and TRACE also how the state
// processed its data (Velocity has no HTTP request to show at TRACE).
func inspection(i workflow.Inspection, debug bool) *inspectionData {
	var d inspectionData
	if debug {
		d = inspectionData{
			Input: i.Input, AfterInputPath: i.AfterInputPath, AfterParameters: i.AfterParameters, AfterArguments: i.AfterArguments,
			Result: i.Result, AfterResultSelector: i.AfterResultSelector, AfterResultPath: i.AfterResultPath, Variables: i.Variables,
		}
	}
	switch {
	case i.RetryIndex >= 0:
		d.ErrorDetails = &errorDetails{RetryIndex: &i.RetryIndex, RetryBackoffIntervalSeconds: &i.RetryBackoffSeconds}
	case i.CatchIndex >= 0:
		d.ErrorDetails = &errorDetails{CatchIndex: &i.CatchIndex}
	}
	if d == (inspectionData{}) {
		return nil
	}
	return &d
}
