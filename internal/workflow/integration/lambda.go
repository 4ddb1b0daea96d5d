package integration

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/velocity-ci/velocity/internal/workflow/asl"
	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

// isFunctionARN reports a Lambda function's ARN used as a Resource.
func isFunctionARN(resource string) bool {
	return strings.HasPrefix(resource, "arn:aws:lambda:") && strings.Contains(resource, ":function:")
}

// lambdaInvoke is arn:aws:states:::lambda:invoke (and aws-sdk:lambda:invoke):
// Payload is any JSON value, sent as its text, and the function's result
// comes back parsed under Payload. A function that fails fails the task
// with its errorType (Lambda.Unknown without one) and its error document
// as the cause.
func (c *Client) lambdaInvoke(ctx context.Context, call call, params *jsonvalue.Object) (any, error) {
	params = params.Clone()
	if p, ok := params.Get("Payload"); ok {
		b, err := jsonvalue.Marshal(p)
		if err != nil {
			return nil, asl.Failf(asl.ErrRuntime, "Payload: %v", err)
		}
		params.Set("Payload", string(b))
	}
	in, err := fill(call.op.in, params)
	if err != nil {
		return nil, asl.Failf(asl.ErrRuntime, "%v", err)
	}
	out, resp, err := c.do(ctx, call, in, maxResponse)
	if err != nil {
		return nil, call.failure(err)
	}
	if err := functionError(resp); err != nil {
		return nil, err
	}
	out.Delete("Payload")
	obj := call.result(out, resp)
	obj.Set("Payload", decodePayload(resp.body))
	if call.optimised {
		obj = sorted(obj)
	}
	return obj, nil
}

// invokeFunction is a function's ARN as the Resource: the input is the
// payload, the function's result the task's.
func (c *Client) invokeFunction(ctx context.Context, arn string, input any) (any, error) {
	b, err := jsonvalue.Marshal(input)
	if err != nil {
		return nil, asl.Failf(asl.ErrRuntime, "payload: %v", err)
	}
	svc := c.services["lambda"]
	invoke := call{svc: svc, action: "invoke", op: svc.ops["invoke"], optimised: true}
	in := objectOf("FunctionName", arn, "Payload", b)
	_, resp, err := c.do(ctx, invoke, in, maxResponse)
	if err != nil {
		return nil, invoke.failure(err)
	}
	if err := functionError(resp); err != nil {
		return nil, err
	}
	return decodePayload(resp.body), nil
}

// functionError is the failure of an invocation whose function failed.
func functionError(resp *response) error {
	if resp.header.Get("X-Amz-Function-Error") == "" {
		return nil
	}
	name := "Lambda.Unknown"
	var doc struct {
		ErrorType string `json:"errorType"`
	}
	if json.Unmarshal(resp.body, &doc) == nil && doc.ErrorType != "" {
		name = doc.ErrorType
	}
	return &asl.Failure{Name: name, Cause: string(resp.body)}
}

// decodePayload is a function's result: JSON, or its text if it is not.
func decodePayload(b []byte) any {
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil
	}
	v, err := jsonvalue.Decode(b)
	if err != nil {
		return string(b)
	}
	return v
}
