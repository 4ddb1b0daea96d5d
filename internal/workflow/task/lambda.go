package task

import (
	"context"
	"encoding/json"

	"github.com/velocity-ci/velocity/internal/workflow/asl"
	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

// lambdaInvoke is the optimised Lambda integration; its parameters are
// FunctionName and Payload, its result the invoke response with the
// function's result under Payload.
const lambdaInvoke = "arn:aws:states:::lambda:invoke"

func (r *Resources) lambdaInvoke(ctx context.Context, req Request) (any, error) {
	m, err := object(lambdaInvoke, req.Input)
	if err != nil {
		return nil, err
	}
	fn, err := stringField(lambdaInvoke, m, "FunctionName", true)
	if err != nil {
		return nil, err
	}
	if !r.bound(fn) && r.AWS != nil {
		return r.AWS.Invoke(ctx, lambdaInvoke, req.Input)
	}
	payload, ok := m.Get("Payload")
	if !ok {
		payload = &jsonvalue.Object{}
	}
	out, err := r.lambda(ctx, req, fn, payload)
	if err != nil {
		return nil, err
	}
	// Members in the order Step Functions gives them (recorded).
	return objectOf(
		"ExecutedVersion", "$LATEST",
		"Payload", out,
		"SdkHttpMetadata", objectOf("HttpStatusCode", json.Number("200")),
		"SdkResponseMetadata", &jsonvalue.Object{},
		"StatusCode", json.Number("200"),
	), nil
}

// lambdaFunction is a Lambda function ARN used directly as the Resource:
// the input is the payload and the function's result the task's.
func (r *Resources) lambdaFunction(ctx context.Context, req Request, arn string) (any, error) {
	if !r.bound(arn) && r.AWS != nil {
		return r.AWS.Invoke(ctx, arn, req.Input)
	}
	return r.lambda(ctx, req, arn, req.Input)
}

// bound reports whether a function has a binding that runs it locally.
func (r *Resources) bound(fn string) bool {
	b, ok := r.Bindings.lookup(functionNames(fn)...)
	return ok && b.Definition == ""
}

func (r *Resources) lambda(ctx context.Context, req Request, fn string, payload any) (any, error) {
	names := functionNames(fn)
	b, ok := r.Bindings.lookup(names...)
	if !ok || b.Definition != "" {
		return nil, asl.Failf("Lambda.ResourceNotFoundException",
			"state %s: function %s is not bound to a local command or URL: add it to the bindings file (--bindings), e.g. %q: {run: ./handler.sh}, or call Lambda at an endpoint (--aws-endpoint URL|aws)",
			req.StateName, fn, names[len(names)-1])
	}
	return r.runBinding(ctx, b, req, payload)
}
