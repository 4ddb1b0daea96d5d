package e2e

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/workflow/integration/awstest"
)

// awsServer starts the AWS-compatible test server and gives the
// velocity processes its keys through the usual AWS variables, with the
// machine's own AWS files out of the way.
func awsServer(t *testing.T) *awstest.Server {
	srv := awstest.New()
	t.Cleanup(func() {
		srv.Close()
		for _, f := range srv.Failures() {
			t.Errorf("test server refused: %s", f)
		}
	})
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_ACCESS_KEY_ID", awstest.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", awstest.SecretKey)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_REGION", awstest.Region)
	return srv
}

func TestWorkflowAWSIntegrationsAgainstAnEndpoint(t *testing.T) {
	srv := awsServer(t)
	srv.AddFunction("score", func(p []byte) ([]byte, string) {
		var in struct{ Order string }
		json.Unmarshal(p, &in)
		return []byte(`{"score": ` + string(rune('0'+len(in.Order))) + `}`), ""
	})
	srv.AddTable("orders", "id")
	queue := srv.AddQueue("shipping")
	srv.PutObject("data", "lines.json", []byte(`[{"sku": "a"}, {"sku": "b"}]`))
	srv.PutObject("data", "in/x.csv", []byte("n\n1\n"))
	srv.PutObject("data", "in/y.csv", []byte("n\n2\n"))
	item := `{"id": {"S.$": "$.order"}, "score": {"N.$": "States.Format('{}', $.scored.Payload.score)"}}`
	e := newEnv(t)
	dir := project(t, map[string]string{
		"order.asl.json": `{"StartAt": "Score", "States": {
			"Score": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
				"Parameters": {"FunctionName": "score", "Payload": {"Order.$": "$.order"}},
				"ResultSelector": {"Payload.$": "$.Payload", "StatusCode.$": "$.StatusCode", "ExecutedVersion.$": "$.ExecutedVersion"},
				"ResultPath": "$.scored", "Next": "Save"},
			"Save": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem",
				"Parameters": {"TableName": "orders", "Item": ` + item + `},
				"ResultSelector": {"HttpStatusCode.$": "$.SdkHttpMetadata.HttpStatusCode"},
				"ResultPath": "$.saved", "Next": "Ship"},
			"Ship": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
				"Parameters": {"QueueUrl": "` + queue + `", "MessageBody": {"order.$": "$.order"}},
				"ResultSelector": {"MessageId.$": "$.MessageId", "MD5OfMessageBody.$": "$.MD5OfMessageBody"},
				"ResultPath": "$.shipped", "Next": "Lines"},
			"Lines": {"Type": "Map",
				"ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON"},
					"Parameters": {"Bucket": "data", "Key": "lines.json"}},
				"ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
					"StartAt": "Line", "States": {"Line": {"Type": "Pass", "End": true}}},
				"ResultPath": "$.lines", "Next": "Files"},
			"Files": {"Type": "Map",
				"ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": "data", "Prefix": "in/"}},
				"ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
					"StartAt": "File", "States": {"File": {"Type": "Pass", "Parameters": {"Key.$": "$.Key", "Size.$": "$.Size"}, "End": true}}},
				"ResultPath": "$.files", "Next": "SaveAgain"},
			"SaveAgain": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem",
				"Parameters": {"TableName": "orders", "Item": ` + item + `, "ConditionExpression": "attribute_not_exists(id)"},
				"Catch": [{"ErrorEquals": ["DynamoDB.ConditionalCheckFailedException"], "ResultPath": "$.duplicate", "Next": "Done"}],
				"ResultPath": null, "Next": "Done"},
			"Done": {"Type": "Succeed"}}}`,
	})
	r := e.run(dir, "workflow", "run", "order.asl.json", "--aws-endpoint", srv.URL, "--input", `{"order": "o-17"}`, "--json")
	if r.code != 0 {
		t.Fatalf("run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	var res struct {
		Status string
		Output json.RawMessage
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	var out struct {
		Scored    map[string]any
		Saved     map[string]any
		Shipped   map[string]any
		Lines     []map[string]any
		Files     []map[string]any
		Duplicate struct{ Error, Cause string }
	}
	if err := json.Unmarshal([]byte(res.Output), &out); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	if res.Status != "SUCCEEDED" {
		t.Fatalf("status %s: %s", res.Status, r.stdout)
	}
	// Lambda's result wrapped as Step Functions documents it.
	if p, _ := out.Scored["Payload"].(map[string]any); p["score"] != 4.0 || out.Scored["StatusCode"] != 200.0 || out.Scored["ExecutedVersion"] != "$LATEST" {
		t.Errorf("lambda: %v", out.Scored)
	}
	if out.Saved["HttpStatusCode"] != 200.0 {
		t.Errorf("dynamodb: %v", out.Saved)
	}
	if it, ok := srv.Item("orders", "o-17"); !ok || string(it["score"]) != `{"N":"4"}` {
		t.Errorf("stored item %s", it)
	}
	msgs := srv.Messages(queue)
	if len(msgs) != 1 || msgs[0].Body != `{"order":"o-17"}` || out.Shipped["MessageId"] != msgs[0].ID || out.Shipped["MD5OfMessageBody"] == "" {
		t.Errorf("sqs: %v, messages %v", out.Shipped, msgs)
	}
	if len(out.Lines) != 2 || out.Lines[1]["sku"] != "b" {
		t.Errorf("S3 object items: %v", out.Lines)
	}
	if len(out.Files) != 2 || out.Files[0]["Key"] != "in/x.csv" || out.Files[1]["Size"] != 4.0 {
		t.Errorf("S3 listing items: %v", out.Files)
	}
	if out.Duplicate.Error != "DynamoDB.ConditionalCheckFailedException" || !strings.Contains(out.Duplicate.Cause, "conditional request failed") {
		t.Errorf("caught: %+v", out.Duplicate)
	}
	calls := srv.Calls()
	for _, c := range []string{"lambda:Invoke", "dynamodb:PutItem", "sqs:SendMessage", "s3:GetObject", "s3:ListObjectsV2"} {
		if !slices.Contains(calls, c) {
			t.Errorf("no %s in %v", c, calls)
		}
	}

	// Bindings and mocks come before the endpoint.
	before := len(srv.Calls())
	bound := project(t, map[string]string{
		"bindings.yml": `score: {run: "echo '{\"local\": true}'"}`,
		"mocks.json": `{"StateMachines": {"one": {"TestCases": {"t": {"Ship": "Shipped"}}}},
			"MockedResponses": {"Shipped": {"0": {"Return": {"MessageId": "mocked"}}}}}`,
		"one.asl.json": `{"StartAt": "Score", "States": {
			"Score": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
				"Parameters": {"FunctionName": "score", "Payload": {}}, "OutputPath": "$.Payload", "Next": "Ship"},
			"Ship": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
				"Parameters": {"QueueUrl": "` + queue + `", "MessageBody": "x"}, "End": true}}}`,
	})
	r = e.run(bound, "workflow", "run", "one.asl.json", "--aws-endpoint", srv.URL, "--bindings", "bindings.yml",
		"--mocks", "mocks.json", "--test-case", "t", "--json")
	if r.code != 0 || !strings.Contains(r.stdout, `"output":{"MessageId":"mocked"}`) {
		t.Errorf("bound and mocked: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if after := srv.Calls()[before:]; len(after) != 0 {
		t.Errorf("the endpoint was called for bound and mocked tasks: %v", after)
	}

	if r := e.run(dir, "workflow", "run", "order.asl.json", "--aws-endpoint", "localhost:4566"); r.code != 2 || !strings.Contains(r.stderr, "--aws-endpoint") {
		t.Errorf("bad endpoint: exit %d %s", r.code, r.stderr)
	}
}

func TestWorkflowAWSWaitForTaskTokenThroughSQS(t *testing.T) {
	srv := awsServer(t)
	queue := srv.AddQueue("approvals")
	e := newEnv(t)
	dir := project(t, map[string]string{
		"ask.asl.json": `{"StartAt": "Ask", "States": {
			"Ask": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
				"Parameters": {"QueueUrl": "` + queue + `", "MessageBody": {"token.$": "$$.Task.Token", "change.$": "$.change"}},
				"ResultPath": "$.decision", "End": true}}}`,
	})
	r := e.run(dir, "workflow", "start", "ask.asl.json", "--aws-endpoint", srv.URL, "--input", `{"change": 7}`, "--detach")
	if r.code != 0 {
		t.Fatalf("start: %d %s", r.code, r.stderr)
	}
	id := strings.TrimSpace(r.stdout)
	deadline := time.Now().Add(30 * time.Second)
	for len(srv.Messages(queue)) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no message with the token: %v", describeJSON(t, e, dir, id))
		}
		time.Sleep(50 * time.Millisecond)
	}
	var msg struct {
		Token  string
		Change int
	}
	if err := json.Unmarshal([]byte(srv.Messages(queue)[0].Body), &msg); err != nil || msg.Token == "" || msg.Change != 7 {
		t.Fatalf("message %q: %v", srv.Messages(queue)[0].Body, err)
	}
	if r := e.run(dir, "workflow", "task", "success", msg.Token, "--output", `{"ok": true}`); r.code != 0 {
		t.Fatalf("success: %d %s", r.code, r.stderr)
	}
	if m := waitStatus(t, e, dir, id, 30*time.Second); m["status"] != "SUCCEEDED" || m["output"] != `{"change":7,"decision":{"ok":true}}` {
		t.Errorf("execution: %v", m)
	}
}
