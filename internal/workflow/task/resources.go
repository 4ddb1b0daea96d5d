package task

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/velocity-ci/velocity/internal/workflow"
	"github.com/velocity-ci/velocity/internal/workflow/asl"
)

// Request is what the interpreter asks of a Task state's resource.
type Request = workflow.TaskRequest

// Resources is the workflow.Invoker of one execution. For each task it
// tries, in order: the test case's mocked response for the state, the
// .waitForTaskToken callback pattern (wrapping the rest), a binding of
// the Resource ARN (or Lambda function name), the built-in resources,
// then AWS (when set) for the AWS service integrations. Safe for
// concurrent use.
type Resources struct {
	// Dir is where relative commands run and child definitions are
	// found: the definition's directory.
	Dir      string
	Bindings Bindings
	// Mocks is the test case the execution runs, nil for none.
	Mocks *MockCase
	// Children starts child executions; nil refuses startExecution.
	Children Children
	// Tokens keeps task tokens for .waitForTaskToken, recorded for the
	// store's ExecutionID; nil refuses the pattern.
	Tokens      Tokens
	ExecutionID int64
	// Reaper, when set, kills commands if Velocity dies.
	Reaper Reaper
	// HTTPClient makes HTTP tasks' requests; nil is http.DefaultClient.
	HTTPClient *http.Client
	// AWS, when set, calls the AWS service integrations and Lambda
	// functions that no mock or binding answers.
	AWS AWS
	// PollInterval is how often a task waiting for its token looks at
	// the store; 0 means 100ms.
	PollInterval time.Duration
}

var _ workflow.Invoker = (*Resources)(nil)

// AWS calls AWS service integrations (integration.Client implements it).
// Invoke is called from the task's goroutine, concurrently for parallel
// tasks; its failures are *asl.Failure with AWS's error names.
type AWS interface {
	// Handles reports whether a Resource (without .waitForTaskToken) is
	// one it calls.
	Handles(resource string) bool
	Invoke(ctx context.Context, resource string, input any) (any, error)
}

// Suffixes of the service integration patterns.
const (
	waitSuffix  = ".waitForTaskToken"
	syncSuffix  = ".sync"
	sync2Suffix = ".sync:2"
)

// Invoke implements workflow.Invoker.
func (r *Resources) Invoke(ctx context.Context, req Request) (any, error) {
	if v, err, ok := r.Mocks.respond(req.StateName); ok {
		return v, err
	}
	if base, ok := strings.CutSuffix(req.Resource, waitSuffix); ok {
		return r.waitForToken(ctx, req, base)
	}
	return r.invoke(ctx, req, req.Resource)
}

// invoke runs resource (without a .waitForTaskToken suffix).
func (r *Resources) invoke(ctx context.Context, req Request, resource string) (any, error) {
	if b, ok := r.Bindings.lookup(resource); ok && b.Definition == "" {
		return r.runBinding(ctx, b, req, req.Input)
	}
	switch {
	case resource == CommandResource:
		c, stdin, err := commandFromInput(req.Input, r.Dir)
		if err != nil {
			return nil, err
		}
		return r.runCommand(ctx, c, req, stdin)
	case resource == HTTPResource:
		return r.httpInvoke(ctx, req.Input)
	case strings.HasPrefix(resource, lambdaInvoke):
		return r.lambdaInvoke(ctx, req)
	case strings.HasPrefix(resource, "arn:aws:lambda:") && strings.Contains(resource, ":function:"):
		return r.lambdaFunction(ctx, req, resource)
	case strings.HasPrefix(resource, startExecution):
		return r.startExecution(ctx, req, strings.TrimPrefix(resource, startExecution))
	case r.AWS != nil && r.AWS.Handles(resource):
		return r.AWS.Invoke(ctx, resource, req.Input)
	}
	return nil, asl.Failf(asl.ErrTaskFailed,
		"state %s: no local resource for %s: bind it in a bindings file (--bindings) to {run: COMMAND} or {http: URL}, mock it (--mocks), or call AWS services at an endpoint (--aws-endpoint URL|aws)",
		req.StateName, resource)
}

// runBinding runs a binding's command or POSTs to its URL.
func (r *Resources) runBinding(ctx context.Context, b *Binding, req Request, input any) (any, error) {
	if b.HTTP != "" {
		return r.postJSON(ctx, b.HTTP, input)
	}
	return r.runCommand(ctx, b.command, req, input)
}
