package integration

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/lambda"

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
	in := &lambda.InvokeInput{}
	if err := fill(in, params); err != nil {
		return nil, asl.Failf(asl.ErrRuntime, "%v", err)
	}
	out, err := c.lambda.Invoke(ctx, in)
	if err != nil {
		return nil, call.failure(err)
	}
	if err := functionError(out); err != nil {
		return nil, err
	}
	payload := out.Payload
	out.Payload = nil
	v, err := call.result(out)
	if err != nil {
		return nil, err
	}
	obj := v.(*jsonvalue.Object)
	obj.Set("Payload", decodePayload(payload))
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
	out, err := c.lambda.Invoke(ctx, &lambda.InvokeInput{FunctionName: &arn, Payload: b})
	if err != nil {
		return nil, call{svc: services["lambda"], action: "invoke", optimised: true}.failure(err)
	}
	if err := functionError(out); err != nil {
		return nil, err
	}
	return decodePayload(out.Payload), nil
}

func functionError(out *lambda.InvokeOutput) error {
	if out.FunctionError == nil {
		return nil
	}
	name := "Lambda.Unknown"
	var doc struct {
		ErrorType string `json:"errorType"`
	}
	if json.Unmarshal(out.Payload, &doc) == nil && doc.ErrorType != "" {
		name = doc.ErrorType
	}
	return &asl.Failure{Name: name, Cause: string(out.Payload)}
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
