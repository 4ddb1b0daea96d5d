package e2e

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// listenServer starts velocity serve --listen on e's data directory and
// returns it and its API's URL.
func listenServer(t *testing.T, e *env) (*server, string) {
	t.Helper()
	cmd := e.command(t.TempDir(), "serve", "--listen", "127.0.0.1:0", "--proxy-addr", "127.0.0.1:0")
	srv := &server{cmd: cmd, out: &output{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = srv.out, srv.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(srv.done) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-srv.done })
	api := srv.waitFor(t, regexp.MustCompile(`API at (http://127\.0\.0\.1:\d+)`), 20*time.Second)[1]
	return srv, api
}

// sfnClient is the AWS SDK's Step Functions client of the API at url,
// with token as its access key ID (the secret key is any).
func sfnClient(url, token string) *sfn.Client {
	return sfn.New(sfn.Options{
		Region: "eu-west-1", BaseEndpoint: aws.String(url), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(token, "any-secret", ""),
	}, noHostPrefix)
}

// noHostPrefix keeps the SDK from sending StartSyncExecution and
// TestState to the host "sync-" + the endpoint's, as it does for AWS's
// own endpoints; the docs tell users the same.
func noHostPrefix(o *sfn.Options) {
	o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("NoHostPrefix",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				return next.HandleInitialize(smithyhttp.DisableEndpointHostPrefix(ctx, true), in)
			}), middleware.Before)
	})
}

func createToken(t *testing.T, e *env, name, role string) string {
	t.Helper()
	r := e.run(t.TempDir(), "token", "create", name, "--role", role)
	if r.code != 0 {
		t.Fatalf("token create %s: exit %d\n%s", name, r.code, r.stderr)
	}
	return strings.TrimSpace(r.stdout)
}

func createMachine(t *testing.T, c *sfn.Client, name, definition string) string {
	t.Helper()
	out, err := c.CreateStateMachine(context.Background(), &sfn.CreateStateMachineInput{
		Name: aws.String(name), Definition: aws.String(definition), RoleArn: aws.String("arn:aws:iam::123456789012:role/run"),
	})
	if err != nil {
		t.Fatalf("CreateStateMachine %s: %v", name, err)
	}
	return aws.ToString(out.StateMachineArn)
}

func startExecution(t *testing.T, c *sfn.Client, smARN, name, input string) string {
	t.Helper()
	out, err := c.StartExecution(context.Background(), &sfn.StartExecutionInput{
		StateMachineArn: aws.String(smARN), Name: aws.String(name), Input: aws.String(input),
	})
	if err != nil {
		t.Fatalf("StartExecution %s: %v", name, err)
	}
	return aws.ToString(out.ExecutionArn)
}

// executionStatus describes the execution until it has status, or fails
// the test after timeout.
func executionStatus(t *testing.T, c *sfn.Client, arn string, status types.ExecutionStatus, timeout time.Duration) *sfn.DescribeExecutionOutput {
	t.Helper()
	for deadline := time.Now().Add(timeout); ; time.Sleep(50 * time.Millisecond) {
		d, err := c.DescribeExecution(context.Background(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		if err != nil {
			t.Fatalf("DescribeExecution %s: %v", arn, err)
		}
		if d.Status == status {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("execution %s is %s, not %s, after %s", arn, d.Status, status, timeout)
		}
	}
}

// apiErrorCode is the error code of an SDK call's error, "" when it has
// none.
func apiErrorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// TestStepFunctionsAPIOverTheListener: the AWS SDK, pointed at velocity
// serve --listen with a token as its access key ID, creates a state
// machine, runs executions to their end (a local command, a task token
// answered with SendTaskSuccess), stops one; a viewer's token only
// reads, an unknown one is not recognized.
func TestStepFunctionsAPIOverTheListener(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	_, api := listenServer(t, e)
	dev := sfnClient(api, createToken(t, e, "the-developer", "developer"))
	viewer := sfnClient(api, createToken(t, e, "the-viewer", "viewer"))

	smARN := createMachine(t, dev, "shout", `{"StartAt": "Shout", "States": {
		"Shout": {"Type": "Task", "Resource": "arn:velocity:command", "End": true,
			"Parameters": {"Input.$": "$.who", "Command": "printf '{\"shouted\": \"%s\"}' \"$(cat | tr -d '\"' | tr a-z A-Z)\""}}}}`)
	arn := startExecution(t, dev, smARN, "first", `{"who": "world"}`)
	d := executionStatus(t, viewer, arn, types.ExecutionStatusSucceeded, 30*time.Second)
	if got := aws.ToString(d.Output); got != `{"shouted":"WORLD"}` {
		t.Errorf("output %s", got)
	}
	h, err := viewer.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(h.Events); n < 2 || h.Events[0].Type != types.HistoryEventTypeExecutionStarted || h.Events[n-1].Type != types.HistoryEventTypeExecutionSucceeded {
		t.Errorf("history %+v", h.Events)
	}

	// A task token, handed to the command, answered through the API.
	tokenFile := filepath.Join(t.TempDir(), "token")
	askARN := createMachine(t, dev, "ask", `{"StartAt": "Ask", "States": {
		"Ask": {"Type": "Task", "Resource": "arn:velocity:command.waitForTaskToken", "End": true,
			"Parameters": {"Command": "echo \"$VELOCITY_TASK_TOKEN\" > `+tokenFile+`"}}}}`)
	asked := startExecution(t, dev, askARN, "asked", `{}`)
	token := strings.TrimSpace(waitFile(t, tokenFile))
	if _, err := dev.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(token), Output: aws.String(`{"approved": true}`)}); err != nil {
		t.Fatal(err)
	}
	if d := executionStatus(t, dev, asked, types.ExecutionStatusSucceeded, 30*time.Second); aws.ToString(d.Output) != `{"approved":true}` {
		t.Errorf("answered output %s", aws.ToString(d.Output))
	}

	holdARN := createMachine(t, dev, "hold", `{"StartAt": "Hold", "States": {
		"Hold": {"Type": "Task", "Resource": "arn:velocity:command", "End": true, "Parameters": {"Command": "exec sleep 60"}}}}`)
	held := startExecution(t, dev, holdARN, "held", `{}`)
	executionStatus(t, dev, held, types.ExecutionStatusRunning, 30*time.Second)
	if _, err := dev.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: aws.String(held), Error: aws.String("Enough"), Cause: aws.String("by hand")}); err != nil {
		t.Fatal(err)
	}
	if d := executionStatus(t, dev, held, types.ExecutionStatusAborted, 30*time.Second); aws.ToString(d.Error) != "Enough" {
		t.Errorf("stopped with %q", aws.ToString(d.Error))
	}

	// A viewer reads but does not start.
	if _, err := viewer.ListStateMachines(ctx, &sfn.ListStateMachinesInput{}); err != nil {
		t.Errorf("viewer ListStateMachines: %v", err)
	}
	_, err = viewer.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(smARN)})
	if code := apiErrorCode(err); code != "AccessDeniedException" {
		t.Errorf("viewer StartExecution: %v (code %q), want AccessDeniedException", err, code)
	}
	for name, c := range map[string]*sfn.Client{
		"an unknown token": sfnClient(api, "vel_not-a-token"),
		"no token":         sfn.New(sfn.Options{Region: "eu-west-1", BaseEndpoint: aws.String(api), RetryMaxAttempts: 1, Credentials: aws.AnonymousCredentials{}}),
	} {
		_, err := c.ListStateMachines(ctx, &sfn.ListStateMachinesInput{})
		if code := apiErrorCode(err); code != "UnrecognizedClientException" {
			t.Errorf("%s: %v (code %q), want UnrecognizedClientException", name, err, code)
		}
	}
}

// TestStepFunctionsExecutionOutlivesAKilledServer: an execution started
// through the API whose server is killed mid-task finishes once velocity
// serve starts again on the same data directory.
func TestStepFunctionsExecutionOutlivesAKilledServer(t *testing.T) {
	e := newEnv(t)
	srv, api := listenServer(t, e)
	token := createToken(t, e, "the-developer", "developer")
	c := sfnClient(api, token)
	started := filepath.Join(t.TempDir(), "started")
	smARN := createMachine(t, c, "nap", `{"StartAt": "Nap", "States": {
		"Nap": {"Type": "Task", "Resource": "arn:velocity:command", "Next": "Done",
			"Parameters": {"Command": "echo up > `+started+`; sleep 2; echo '{\"slept\": true}'"}},
		"Done": {"Type": "Pass", "End": true}}}`)
	arn := startExecution(t, c, smARN, "napping", `{}`)
	waitFile(t, started)
	executionStatus(t, c, arn, types.ExecutionStatusRunning, time.Second)
	if err := srv.cmd.Process.Signal(os.Kill); err != nil {
		t.Fatal(err)
	}
	<-srv.done

	_, api = listenServer(t, e)
	c = sfnClient(api, token)
	d := executionStatus(t, c, arn, types.ExecutionStatusSucceeded, 60*time.Second)
	if aws.ToString(d.Output) != `{"slept":true}` {
		t.Errorf("output after the restart %s", aws.ToString(d.Output))
	}
}

// TestStepFunctionsSyncExecutionAndPaging: through velocity serve
// --listen, an EXPRESS state machine runs with StartSyncExecution and
// answers with its output (a STANDARD one is refused as by AWS), and
// the SDK's paginator walks ListExecutions a page at a time.
func TestStepFunctionsSyncExecutionAndPaging(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	_, api := listenServer(t, e)
	dev := sfnClient(api, createToken(t, e, "the-developer", "developer"))

	created, err := dev.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
		Name: aws.String("shout-now"), RoleArn: aws.String("arn:aws:iam::123456789012:role/run"), Type: types.StateMachineTypeExpress,
		Definition: aws.String(`{"StartAt": "Shout", "States": {
			"Shout": {"Type": "Task", "Resource": "arn:velocity:command", "End": true,
				"Parameters": {"Input.$": "$.who", "Command": "printf '{\"shouted\": \"%s\"}' \"$(cat | tr -d '\"' | tr a-z A-Z)\""}}}}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	expressARN := aws.ToString(created.StateMachineArn)
	out, err := dev.StartSyncExecution(ctx, &sfn.StartSyncExecutionInput{StateMachineArn: aws.String(expressARN), Name: aws.String("now"), Input: aws.String(`{"who": "sync"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != types.SyncExecutionStatusSucceeded || aws.ToString(out.Output) != `{"shouted":"SYNC"}` || out.StopDate == nil {
		t.Errorf("StartSyncExecution answered %s %s (%s: %s)", out.Status, aws.ToString(out.Output), aws.ToString(out.Error), aws.ToString(out.Cause))
	}

	standardARN := createMachine(t, dev, "count", `{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}`)
	_, err = dev.StartSyncExecution(ctx, &sfn.StartSyncExecutionInput{StateMachineArn: aws.String(standardARN)})
	if code := apiErrorCode(err); code != "StateMachineTypeNotSupported" {
		t.Errorf("StartSyncExecution of a STANDARD state machine: %v (code %q)", err, code)
	}

	var started []string
	for _, name := range []string{"one", "two", "three", "four", "five"} {
		arn := startExecution(t, dev, standardARN, name, `{}`)
		executionStatus(t, dev, arn, types.ExecutionStatusSucceeded, 30*time.Second)
		started = append([]string{name}, started...)
	}
	var listed []string
	pages := 0
	for p := sfn.NewListExecutionsPaginator(dev, &sfn.ListExecutionsInput{StateMachineArn: aws.String(standardARN), MaxResults: 2}); p.HasMorePages(); pages++ {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, ex := range page.Executions {
			listed = append(listed, aws.ToString(ex.Name))
		}
	}
	if strings.Join(listed, " ") != strings.Join(started, " ") || pages != 3 {
		t.Errorf("listed %v in %d pages, want %v in 3", listed, pages, started)
	}
	_, err = dev.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(standardARN), NextToken: aws.String("forged")})
	if code := apiErrorCode(err); code != "InvalidToken" {
		t.Errorf("forged token: %v (code %q)", err, code)
	}
}
