package integration_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/workflow/asl"
	"github.com/velocity-ci/velocity/internal/workflow/integration"
	"github.com/velocity-ci/velocity/internal/workflow/integration/awstest"
	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

// setup starts the test server and a client signing with its keys, with
// the machine's own AWS configuration out of the way.
func setup(t *testing.T) (*awstest.Server, *integration.Client) {
	t.Helper()
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
	c, err := integration.New(context.Background(), integration.Config{Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

func params(t *testing.T, js string) any {
	t.Helper()
	v, err := jsonvalue.Decode([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func get(t *testing.T, v any, path ...string) any {
	t.Helper()
	for _, p := range path {
		o, ok := v.(*jsonvalue.Object)
		if !ok {
			t.Fatalf("%s: not an object in %s", p, js(t, v))
		}
		if v, ok = o.Get(p); !ok {
			t.Fatalf("no member %s in %s", p, js(t, o))
		}
	}
	return v
}

func js(t *testing.T, v any) string {
	b, err := jsonvalue.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func failure(t *testing.T, err error) *asl.Failure {
	t.Helper()
	var f *asl.Failure
	if !errors.As(err, &f) {
		t.Fatalf("error %v is not a task failure", err)
	}
	return f
}

func TestLambdaInvoke(t *testing.T) {
	srv, c := setup(t)
	srv.AddFunction("double", func(p []byte) ([]byte, string) {
		v, _ := jsonvalue.Decode(p)
		n, _ := get(t, v, "n").(interface{ String() string })
		return []byte(`{"doubled":"` + n.String() + n.String() + `"}`), ""
	})
	srv.AddFunction("broken", func([]byte) ([]byte, string) {
		return []byte(`{"errorType":"CustomError","errorMessage":"no"}`), "Unhandled"
	})
	ctx := context.Background()

	out, err := c.Invoke(ctx, "arn:aws:states:::lambda:invoke", params(t, `{"FunctionName":"double","Payload":{"n":4}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := js(t, get(t, out, "Payload")); got != `{"doubled":"44"}` {
		t.Errorf("Payload = %s", got)
	}
	if got := js(t, get(t, out, "StatusCode")); got != "200" {
		t.Errorf("StatusCode = %s", got)
	}
	if got := get(t, out, "ExecutedVersion"); got != "$LATEST" {
		t.Errorf("ExecutedVersion = %v", got)
	}
	if got := js(t, get(t, out, "SdkHttpMetadata", "HttpStatusCode")); got != "200" {
		t.Errorf("SdkHttpMetadata.HttpStatusCode = %s", got)
	}
	if got := get(t, out, "SdkResponseMetadata", "RequestId"); got == "" {
		t.Errorf("no RequestId in %s", js(t, out))
	}
	if keys := out.(*jsonvalue.Object).Keys(); strings.Join(keys, ",") != "ExecutedVersion,Payload,SdkHttpMetadata,SdkResponseMetadata,StatusCode" {
		t.Errorf("members %v", keys)
	}

	// A function ARN as the Resource: the payload in, the result out.
	out, err = c.Invoke(ctx, "arn:aws:lambda:us-east-1:000000000000:function:double", params(t, `{"n":1}`))
	if err != nil || js(t, out) != `{"doubled":"11"}` {
		t.Errorf("function ARN: %v, %v", js(t, out), err)
	}

	_, err = c.Invoke(ctx, "arn:aws:states:::lambda:invoke", params(t, `{"FunctionName":"broken"}`))
	if f := failure(t, err); f.Name != "CustomError" || !strings.Contains(f.Cause, `"errorMessage":"no"`) {
		t.Errorf("function error: %s: %s", f.Name, f.Cause)
	}
	_, err = c.Invoke(ctx, "arn:aws:states:::lambda:invoke", params(t, `{"FunctionName":"missing"}`))
	if f := failure(t, err); f.Name != "Lambda.ResourceNotFoundException" {
		t.Errorf("missing function: %s: %s", f.Name, f.Cause)
	}
}

func TestDynamoDB(t *testing.T) {
	srv, c := setup(t)
	srv.AddTable("orders", "id")
	ctx := context.Background()
	item := `{"id":{"S":"o-1"},"qty":{"N":"3"},"tags":{"SS":["a","b"]},"meta":{"M":{"ok":{"BOOL":true},"raw":{"B":"aGk="},"none":{"NULL":true},"l":{"L":[{"N":"1.5"}]}}}}`
	out, err := c.Invoke(ctx, "arn:aws:states:::dynamodb:putItem", params(t, `{"TableName":"orders","Item":`+item+`}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := js(t, get(t, out, "SdkHttpMetadata", "HttpStatusCode")); got != "200" {
		t.Errorf("putItem: %s", js(t, out))
	}
	out, err = c.Invoke(ctx, "arn:aws:states:::dynamodb:getItem", params(t, `{"TableName":"orders","Key":{"id":{"S":"o-1"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	// Attribute values as DynamoDB gives them (maps in key order).
	if got := js(t, get(t, out, "Item")); got != `{"id":{"S":"o-1"},"meta":{"M":{"l":{"L":[{"N":"1.5"}]},"none":{"NULL":true},"ok":{"BOOL":true},"raw":{"B":"aGk="}}},"qty":{"N":"3"},"tags":{"SS":["a","b"]}}` {
		t.Errorf("getItem Item = %s", got)
	}
	out, err = c.Invoke(ctx, "arn:aws:states:::dynamodb:updateItem", params(t,
		`{"TableName":"orders","Key":{"id":{"S":"o-1"}},"UpdateExpression":"SET qty = :q","ExpressionAttributeValues":{":q":{"N":"4"}},"ReturnValues":"ALL_NEW"}`))
	if err != nil || js(t, get(t, out, "Attributes", "qty")) != `{"N":"4"}` {
		t.Errorf("updateItem: %v %v", js(t, out), err)
	}

	cond := params(t, `{"TableName":"orders","Item":`+item+`,"ConditionExpression":"attribute_not_exists(id)"}`)
	_, err = c.Invoke(ctx, "arn:aws:states:::dynamodb:putItem", cond)
	if f := failure(t, err); f.Name != "DynamoDB.ConditionalCheckFailedException" {
		t.Errorf("optimised: %s: %s", f.Name, f.Cause)
	}
	_, err = c.Invoke(ctx, "arn:aws:states:::aws-sdk:dynamodb:putItem", cond)
	if f := failure(t, err); f.Name != "DynamoDb.ConditionalCheckFailedException" {
		t.Errorf("aws-sdk: %s: %s", f.Name, f.Cause)
	}
	if _, err := c.Invoke(ctx, "arn:aws:states:::dynamodb:deleteItem", params(t, `{"TableName":"orders","Key":{"id":{"S":"o-1"}}}`)); err != nil {
		t.Fatal(err)
	}
	if _, ok := srv.Item("orders", "o-1"); ok {
		t.Error("deleteItem left the item")
	}
}

func TestSQSAndSNS(t *testing.T) {
	srv, c := setup(t)
	q := srv.AddQueue("jobs")
	topic := srv.AddTopic("events")
	ctx := context.Background()
	out, err := c.Invoke(ctx, "arn:aws:states:::sqs:sendMessage", params(t, `{"QueueUrl":"`+q+`","MessageBody":{"job":1}}`))
	if err != nil {
		t.Fatal(err)
	}
	msgs := srv.Messages(q)
	if len(msgs) != 1 || msgs[0].Body != `{"job":1}` {
		t.Errorf("messages %v", msgs)
	}
	if get(t, out, "MessageId") != msgs[0].ID || get(t, out, "MD5OfMessageBody") == "" {
		t.Errorf("sendMessage = %s", js(t, out))
	}
	_, err = c.Invoke(ctx, "arn:aws:states:::sqs:sendMessage", params(t, `{"QueueUrl":"`+srv.URL+`/000000000000/nope","MessageBody":"x"}`))
	if f := failure(t, err); f.Name != "SQS.AmazonSQSException" || !strings.Contains(f.Cause, "QueueDoesNotExist") {
		t.Errorf("optimised: %s: %s", f.Name, f.Cause)
	}
	_, err = c.Invoke(ctx, "arn:aws:states:::aws-sdk:sqs:sendMessage", params(t, `{"QueueUrl":"`+srv.URL+`/000000000000/nope","MessageBody":"x"}`))
	if f := failure(t, err); f.Name != "Sqs.QueueDoesNotExistException" {
		t.Errorf("aws-sdk: %s: %s", f.Name, f.Cause)
	}

	out, err = c.Invoke(ctx, "arn:aws:states:::sns:publish", params(t, `{"TopicArn":"`+topic+`","Message":"hello"}`))
	if err != nil {
		t.Fatal(err)
	}
	if get(t, out, "MessageId") != "pub-1" || len(srv.Published(topic)) != 1 {
		t.Errorf("publish = %s, published %v", js(t, out), srv.Published(topic))
	}
	_, err = c.Invoke(ctx, "arn:aws:states:::sns:publish", params(t, `{"TopicArn":"arn:aws:sns:us-east-1:000000000000:none","Message":"x"}`))
	if f := failure(t, err); f.Name != "SNS.NotFoundException" {
		t.Errorf("sns: %s: %s", f.Name, f.Cause)
	}
}

func TestS3(t *testing.T) {
	srv, c := setup(t)
	ctx := context.Background()
	if _, err := c.Invoke(ctx, "arn:aws:states:::aws-sdk:s3:putObject", params(t, `{"Bucket":"data","Key":"in/a.json","Body":[1,2]}`)); err != nil {
		t.Fatal(err)
	}
	srv.PutObject("data", "in/b.csv", []byte("x,y\n1,2\n"))
	out, err := c.Invoke(ctx, "arn:aws:states:::aws-sdk:s3:getObject", params(t, `{"Bucket":"data","Key":"in/a.json"}`))
	if err != nil {
		t.Fatal(err)
	}
	if get(t, out, "Body") != "[1,2]" {
		t.Errorf("getObject = %s", js(t, out))
	}
	_, err = c.Invoke(ctx, "arn:aws:states:::aws-sdk:s3:getObject", params(t, `{"Bucket":"data","Key":"none"}`))
	if f := failure(t, err); f.Name != "S3.NoSuchKeyException" {
		t.Errorf("missing key: %s: %s", f.Name, f.Cause)
	}

	items, err := c.ListObjects(ctx, "data", "in/")
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || get(t, items[0], "Key") != "in/a.json" || js(t, get(t, items[1], "Size")) != "8" {
		t.Errorf("ListObjects = %s", js(t, items))
	}
	data, err := c.GetObject(ctx, "data", "in/b.csv")
	if err != nil || string(data) != "x,y\n1,2\n" {
		t.Errorf("GetObject = %q, %v", data, err)
	}
}

func TestUnsupported(t *testing.T) {
	_, c := setup(t)
	ctx := context.Background()
	for resource, want := range map[string]string{
		"arn:aws:states:::aws-sdk:ec2:describeInstances": "supported: dynamodb, lambda, s3, sns, sqs",
		"arn:aws:states:::aws-sdk:s3:deleteBucket":       "getObject",
		"arn:aws:states:::aws-sdk:s3:getObject.sync":     ".sync pattern",
	} {
		if !c.Handles(resource) {
			t.Errorf("%s: not handled", resource)
		}
		_, err := c.Invoke(ctx, resource, params(t, `{}`))
		if f := failure(t, err); f.Name != asl.ErrRuntime || !strings.Contains(f.Cause, want) {
			t.Errorf("%s: %s: %s", resource, f.Name, f.Cause)
		}
	}
	for _, resource := range []string{"arn:aws:states:::http:invoke", "arn:aws:states:::states:startExecution", "velocity:command"} {
		if c.Handles(resource) {
			t.Errorf("%s: handled", resource)
		}
	}
	_, err := c.Invoke(ctx, "arn:aws:states:::dynamodb:getItem", params(t, `{"TableName":"t","Nope":1}`))
	if f := failure(t, err); !strings.Contains(f.Cause, "no parameter Nope") {
		t.Errorf("unknown parameter: %s", f.Cause)
	}
}

// TestSignatureChecked shows the test server refuses what is not signed
// with its key, so that the tests above show the client's signing.
func TestSignatureChecked(t *testing.T) {
	srv := awstest.New()
	defer srv.Close()
	srv.AddTable("t", "id")
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_ACCESS_KEY_ID", awstest.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
	t.Setenv("AWS_REGION", awstest.Region)
	c, err := integration.New(context.Background(), integration.Config{Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Invoke(context.Background(), "arn:aws:states:::dynamodb:getItem", params(t, `{"TableName":"t","Key":{"id":{"S":"x"}}}`))
	if err == nil || len(srv.Failures()) != 1 || !strings.Contains(srv.Failures()[0], "signature mismatch") {
		t.Errorf("err %v, failures %v", err, srv.Failures())
	}
}

// TestEndpointWithoutCredentials shows that an endpoint is called with
// LocalStack's test key when the environment has no credentials.
func TestEndpointWithoutCredentials(t *testing.T) {
	srv := awstest.New()
	defer srv.Close()
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	for _, k := range []string{"AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_WEB_IDENTITY_TOKEN_FILE"} {
		t.Setenv(k, "")
	}
	c, err := integration.New(context.Background(), integration.Config{Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Invoke(context.Background(), "arn:aws:states:::sqs:sendMessage", params(t, `{"QueueUrl":"q","MessageBody":"x"}`))
	if err == nil || len(srv.Failures()) != 1 || !strings.Contains(srv.Failures()[0], "unknown access key test") {
		t.Errorf("err %v, failures %v", err, srv.Failures())
	}
}
