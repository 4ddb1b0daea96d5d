package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/velocity-ci/velocity/internal/workflow/asl"
	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

// recorded is a request as the server saw it.
type recorded struct {
	method, path string
	query        url.Values
	header       http.Header
	body         []byte
}

// canned answers every request with one response.
type canned struct {
	mu     sync.Mutex
	got    []recorded
	status int
	header map[string]string
	body   string
}

func (c *canned) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	c.got = append(c.got, recorded{r.Method, r.URL.EscapedPath(), r.URL.Query(), r.Header.Clone(), b})
	c.mu.Unlock()
	for k, v := range c.header {
		w.Header().Set(k, v)
	}
	w.Header().Set("X-Amzn-RequestId", "rid-1")
	w.WriteHeader(c.status)
	io.WriteString(w, c.body)
}

// TestSameAsSDK calls operations of every service with this client and
// with the AWS SDK (its input filled and its output converted as the
// package did while it used the SDK) against a server giving both the
// same response, and compares the requests they send and the results
// and errors they give.
func TestSameAsSDK(t *testing.T) {
	cases := []struct {
		service, action, params string
		status                  int
		header                  map[string]string
		body                    string
	}{
		{"lambda", "getFunction", `{"FunctionName":"arn:aws:lambda:us-east-1:1:function:f","Qualifier":"$LATEST"}`, 200, nil,
			`{"Configuration":{"FunctionName":"f","CodeSize":12,"Timeout":3,"MemorySize":128,"LastModified":"2026-01-02T03:04:05.000+0000","Runtime":"go1.x","Layers":[{"Arn":"l","CodeSize":5}],"Environment":{"Variables":{"B":"2","A":"1"}}},"Code":{"Location":"u"},"Tags":{"k":"v"}}`},
		{"lambda", "listFunctions", `{"MaxItems":5,"Marker":"a b+c"}`, 200, nil, `{"Functions":[{"FunctionName":"f"}],"NextMarker":"n"}`},
		{"lambda", "getFunction", `{"FunctionName":"nope"}`, 404, map[string]string{"X-Amzn-ErrorType": "ResourceNotFoundException:http://internal"}, `{"Type":"User","Message":"Function not found"}`},
		{"sqs", "sendMessageBatch", `{"QueueUrl":"q","Entries":[{"Id":"1","MessageBody":{"a":1},"DelaySeconds":"5","MessageAttributes":{"k":{"DataType":"Binary","BinaryValue":"hi"}}}]}`, 200, nil,
			`{"Successful":[{"Id":"1","MessageId":"m","MD5OfMessageBody":"x"}],"Failed":[{"Id":"2","SenderFault":true,"Code":"c"}]}`},
		{"sqs", "sendMessageBatch", `{"QueueUrl":"q","Entries":[{"Id":"1","MessageBody":{"a":1}}]}`, 200, nil,
			`{"Successful":[{"Id":"1","MessageId":"m","MD5OfMessageBody":"bb6cb5c68df4652941caf652a366f2d8"}]}`},
		{"sqs", "receiveMessage", `{"QueueUrl":"q"}`, 200, nil,
			`{"Messages":[{"MessageId":"m","Body":"b","MD5OfBody":"92eb5ffee6ae2fec3ad71c777531578f"}]}`},
		{"sqs", "receiveMessage", `{"QueueUrl":"q","MaxNumberOfMessages":2,"MessageSystemAttributeNames":["All"],"WaitTimeSeconds":0}`, 200, nil,
			`{"Messages":[{"MessageId":"m","Body":"b","Attributes":{"SentTimestamp":"1","ApproximateReceiveCount":"2"},"MessageAttributes":{"k":{"DataType":"Binary","BinaryValue":"aGk="}}}]}`},
		{"sqs", "getQueueUrl", `{"QueueName":"missing"}`, 400, map[string]string{"X-Amzn-Query-Error": "AWS.SimpleQueueService.NonExistentQueue;Sender"},
			`{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."}`},
		{"sqs", "createQueue", `{"QueueName":"q","Attributes":{"DelaySeconds":"1"},"tags":{"t":"v"}}`, 200, nil, `{"QueueUrl":"http://q"}`},
		{"dynamodb", "query", `{"TableName":"t","KeyConditionExpression":"id = :v","ExpressionAttributeValues":{":v":{"S":"x"},":n":{"N":5},":b":{"B":"aGk="},":l":{"L":[{"NS":["1",2]}]}},"Limit":10,"ScanIndexForward":false,"ExclusiveStartKey":{"id":{"S":"a"}}}`, 200, nil,
			`{"Items":[{"id":{"S":"x"},"n":{"N":"5"},"m":{"M":{"z":{"NULL":true},"a":{"BOOL":false}}},"b":{"BS":["aGk="]}}],"Count":1,"ScannedCount":3,"ConsumedCapacity":{"TableName":"t","CapacityUnits":1.0},"LastEvaluatedKey":{"id":{"S":"x"}}}`},
		{"dynamodb", "transactWriteItems", `{"TransactItems":[{"Put":{"TableName":"t","Item":{"id":{"S":"1"}}}},{"Delete":{"TableName":"t","Key":{"id":{"S":"2"}},"ConditionExpression":"attribute_exists(id)"}}],"ClientRequestToken":"tok"}`, 200, nil, `{}`},
		{"dynamodb", "batchGetItem", `{"RequestItems":{"t":{"Keys":[{"id":{"S":"1"}}],"ConsistentRead":true}}}`, 200, nil,
			`{"Responses":{"t":[{"id":{"S":"1"}}]},"UnprocessedKeys":{}}`},
		{"dynamodb", "putItem", `{"TableName":"t","Item":{"id":{"S":"1"}}}`, 400, nil,
			`{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed"}`},
		{"sns", "publish", `{"TopicArn":"arn:t","Message":{"a":[1]},"Subject":"s","MessageAttributes":{"b":{"DataType":"String","StringValue":"v"},"a":{"DataType":"Binary","BinaryValue":"x"}}}`, 200, nil,
			`<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>m</MessageId><SequenceNumber>7</SequenceNumber></PublishResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></PublishResponse>`},
		{"sns", "createTopic", `{"Name":"t","Attributes":{"FifoTopic":"true","DisplayName":"d"},"Tags":[{"Key":"k","Value":"v"}]}`, 200, nil,
			`<CreateTopicResponse><CreateTopicResult><TopicArn>arn:t</TopicArn></CreateTopicResult></CreateTopicResponse>`},
		{"sns", "listTopics", `{"NextToken":"n"}`, 200, nil,
			`<ListTopicsResponse><ListTopicsResult><Topics><member><TopicArn>a</TopicArn></member><member><TopicArn>b</TopicArn></member></Topics><NextToken>z</NextToken></ListTopicsResult></ListTopicsResponse>`},
		{"sns", "subscribe", `{"TopicArn":"arn:t","Protocol":"sqs","Endpoint":"arn:q","ReturnSubscriptionArn":true}`, 404, nil,
			`<ErrorResponse><Error><Type>Sender</Type><Code>NotFound</Code><Message>Topic does not exist</Message></Error><RequestId>r2</RequestId></ErrorResponse>`},
		{"s3", "getObject", `{"Bucket":"b","Key":"dir/a b+c.txt","Range":"bytes=0-9","VersionId":"v1","ResponseContentType":"text/plain"}`, 200,
			map[string]string{"Content-Type": "text/plain", "ETag": `"e"`, "Last-Modified": "Fri, 02 Jan 2026 03:04:05 GMT", "X-Amz-Meta-Owner": "me", "Content-Length": "5", "X-Amz-Version-Id": "v1", "Accept-Ranges": "bytes"},
			"hello"},
		{"s3", "putObject", `{"Bucket":"b","Key":"k","Body":{"x":1},"ContentType":"application/json","Metadata":{"a":"1"},"Tagging":"t=1","Expires":"2026-01-02T03:04:05Z"}`, 200,
			map[string]string{"ETag": `"e"`, "X-Amz-Version-Id": "v"}, ""},
		{"s3", "copyObject", `{"Bucket":"b","Key":"k2","CopySource":"b/k","MetadataDirective":"COPY"}`, 200, nil,
			`<?xml version="1.0" encoding="UTF-8"?><CopyObjectResult><LastModified>2026-01-02T03:04:05.000Z</LastModified><ETag>"e"</ETag></CopyObjectResult>`},
		{"s3", "listObjectsV2", `{"Bucket":"b","Prefix":"p/","Delimiter":"/","MaxKeys":2,"FetchOwner":true}`, 200, nil,
			`<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>p/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated><NextContinuationToken>n</NextContinuationToken><Contents><Key>p/a</Key><LastModified>2026-01-02T03:04:05.000Z</LastModified><ETag>"e"</ETag><Size>3</Size><StorageClass>STANDARD</StorageClass><Owner><ID>o</ID></Owner></Contents><Contents><Key>p/b</Key><Size>0</Size></Contents><CommonPrefixes><Prefix>p/c/</Prefix></CommonPrefixes></ListBucketResult>`},
		{"s3", "createBucket", `{"Bucket":"nb","CreateBucketConfiguration":{"LocationConstraint":"eu-west-1"}}`, 200, map[string]string{"Location": "/nb"}, ""},
		{"s3", "deleteObject", `{"Bucket":"b","Key":"k","VersionId":"v"}`, 204, map[string]string{"X-Amz-Delete-Marker": "true"}, ""},
		{"s3", "headObject", `{"Bucket":"b","Key":"missing"}`, 404, nil, ""},
		{"sqs", "sendMessage", `{"QueueUrl":"q","MessageBody":"hello","DelaySeconds":0,"MessageAttributes":{"n":{"DataType":"Number","StringValue":"1"}},"MessageGroupId":"g"}`, 200, nil,
			`{"MessageId":"m","MD5OfMessageBody":"5d41402abc4b2a76b9719d911017c592","SequenceNumber":"1"}`},
		{"sqs", "deleteMessage", `{"QueueUrl":"q","ReceiptHandle":"r"}`, 200, nil, `{}`},
		{"sqs", "getQueueAttributes", `{"QueueUrl":"q","AttributeNames":["All"]}`, 200, nil, `{"Attributes":{"VisibilityTimeout":"30","DelaySeconds":"0"}}`},
		{"sqs", "purgeQueue", `{"QueueUrl":"q"}`, 400, nil, `{"__type":"com.amazonaws.sqs#PurgeQueueInProgress"}`},
		{"sns", "publishBatch", `{"TopicArn":"arn:t","PublishBatchRequestEntries":[{"Id":"1","Message":"m","MessageGroupId":"g"}]}`, 200, nil,
			`<PublishBatchResponse><PublishBatchResult><Successful><member><Id>1</Id><MessageId>x</MessageId></member></Successful><Failed/></PublishBatchResult></PublishBatchResponse>`},
		{"dynamodb", "getItem", `{"TableName":"t","Key":{"id":{"S":"1"}},"ConsistentRead":true,"ProjectionExpression":"#a","ExpressionAttributeNames":{"#a":"a"}}`, 200, nil, `{}`},
		{"dynamodb", "updateItem", `{"TableName":"t","Key":{"id":{"S":"1"}},"UpdateExpression":"SET a = :a","ExpressionAttributeValues":{":a":{"SS":["x","y"]}},"ReturnValues":"ALL_NEW"}`, 200, nil,
			`{"Attributes":{"id":{"S":"1"},"a":{"SS":["x","y"]}}}`},
		{"dynamodb", "deleteItem", `{"TableName":"t","Key":{"id":{"S":"1"}},"ReturnValues":"ALL_OLD"}`, 200, nil, `{"Attributes":{"id":{"S":"1"}}}`},
		{"dynamodb", "scan", `{"TableName":"t","Segment":0,"TotalSegments":2,"FilterExpression":"a > :z","ExpressionAttributeValues":{":z":{"N":"0"}}}`, 200, nil, `{"Items":[],"Count":0,"ScannedCount":5}`},
		{"dynamodb", "batchWriteItem", `{"RequestItems":{"t":[{"PutRequest":{"Item":{"id":{"S":"1"}}}},{"DeleteRequest":{"Key":{"id":{"S":"2"}}}}]}}`, 200, nil,
			`{"UnprocessedItems":{"t":[{"DeleteRequest":{"Key":{"id":{"S":"2"}}}}]}}`},
		{"dynamodb", "transactGetItems", `{"TransactItems":[{"Get":{"TableName":"t","Key":{"id":{"S":"1"}}}}]}`, 200, nil, `{"Responses":[{"Item":{"id":{"S":"1"}}},{}]}`},
		{"s3", "headObject", `{"Bucket":"b","Key":"k","IfNoneMatch":"x","PartNumber":1}`, 200,
			map[string]string{"Content-Length": "0", "ETag": `"e"`, "Last-Modified": "Fri, 02 Jan 2026 03:04:05 GMT", "X-Amz-Meta-A": "1", "X-Amz-Storage-Class": "GLACIER", "X-Amz-Restore": `ongoing-request="true"`}, ""},
		{"s3", "listBuckets", `{"MaxBuckets":10}`, 200, nil,
			`<ListAllMyBucketsResult><Owner><ID>o</ID><DisplayName>d</DisplayName></Owner><Buckets><Bucket><Name>a</Name><CreationDate>2026-01-02T03:04:05.000Z</CreationDate><BucketRegion>eu-west-1</BucketRegion></Bucket></Buckets><ContinuationToken>c</ContinuationToken></ListAllMyBucketsResult>`},
		{"s3", "getObject", `{"Bucket":"b","Key":"missing"}`, 404, nil,
			`<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><RequestId>r3</RequestId></Error>`},
	}
	ctx := context.Background()
	for _, tc := range cases {
		name := tc.service + ":" + tc.action
		srv := &canned{status: tc.status, header: tc.header, body: tc.body}
		ts := httptest.NewServer(srv)
		cfg := aws.Config{
			Region: "us-east-1", BaseEndpoint: aws.String(ts.URL),
			Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "s"}, nil
			}),
			RetryMaxAttempts:           1,
			RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
			ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		}
		clients := map[string]any{
			"lambda": lambda.NewFromConfig(cfg), "sqs": sqs.NewFromConfig(cfg), "sns": sns.NewFromConfig(cfg),
			"dynamodb": dynamodb.NewFromConfig(cfg), "s3": s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }),
		}
		ours := &Client{http: ts.Client(), endpoint: ts.URL, region: "us-east-1", signer: signer{creds: credentials{AccessKeyID: "AKID", SecretAccessKey: "s"}, region: "us-east-1"}, services: services()}
		svc := ours.services[tc.service]
		op := svc.ops[tc.action]
		params := decode(t, tc.params)

		got, gotErr := ours.Invoke(ctx, "arn:aws:states:::aws-sdk:"+tc.service+":"+tc.action, params.Clone())

		method := reflect.ValueOf(clients[tc.service]).MethodByName(op.name)
		in := reflect.New(method.Type().In(1).Elem())
		if err := sdkFill(in.Interface(), params); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		res := method.Call([]reflect.Value{reflect.ValueOf(ctx), in})
		var want any
		var wantErr error
		call := call{svc: svc, action: tc.action, op: op}
		if e, _ := res[1].Interface().(error); e != nil {
			wantErr = call.failureSDK(e)
		} else if want, wantErr = sdkResult(res[0].Interface()); wantErr != nil {
			t.Fatalf("%s: %v", name, wantErr)
		}
		ts.Close()

		if len(srv.got) != 2 {
			t.Fatalf("%s: %d requests", name, len(srv.got))
		}
		compareRequests(t, name, srv.got[0], srv.got[1])
		if g, w := asFailure(gotErr), asFailure(wantErr); g != nil && w != nil && g.Name == asl.ErrTaskFailed && w.Name == g.Name {
			// Not the service's error (a checksum, the network): the
			// same name, a cause in words of its own.
		} else if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
			t.Errorf("%s: error\n got %v\nwant %v", name, gotErr, wantErr)
		}
		if g, w := marshal(t, got), marshal(t, want); gotErr == nil && g != w {
			t.Errorf("%s: result\n got %s\nwant %s", name, g, w)
		}
	}
}

func asFailure(err error) *asl.Failure {
	f, _ := err.(*asl.Failure)
	return f
}

// sdkOnlyHeaders are headers the SDK adds for itself.
var sdkOnlyHeaders = []string{"Amz-Sdk-Invocation-Id", "Amz-Sdk-Request", "User-Agent", "X-Amz-User-Agent", "Authorization", "X-Amz-Date", "Accept-Encoding", "Content-Length"}

func compareRequests(t *testing.T, name string, ours, sdk recorded) {
	t.Helper()
	if ours.method != sdk.method || ours.path != sdk.path {
		t.Errorf("%s: %s %s, the SDK %s %s", name, ours.method, ours.path, sdk.method, sdk.path)
	}
	sdk.query.Del("x-id")
	if ours.query.Encode() != sdk.query.Encode() {
		t.Errorf("%s: query %s, the SDK %s", name, ours.query.Encode(), sdk.query.Encode())
	}
	for _, h := range slices.Sorted(func(yield func(string) bool) {
		for k := range sdk.header {
			if !yield(k) {
				return
			}
		}
		for k := range ours.header {
			if _, ok := sdk.header[k]; !ok && !yield(k) {
				return
			}
		}
	}) {
		if slices.Contains(sdkOnlyHeaders, h) {
			continue
		}
		if o, s := ours.header.Get(h), sdk.header.Get(h); o != s {
			t.Errorf("%s: header %s %q, the SDK %q", name, h, o, s)
		}
	}
	ob, sb := ours.body, sdk.body
	switch {
	case json.Valid(ob) && json.Valid(sb) && len(ob) > 0:
		ob, sb = normalJSON(t, ob), normalJSON(t, sb)
	case strings.HasPrefix(ours.header.Get("Content-Type"), "application/x-www-form-urlencoded"):
		o, _ := url.ParseQuery(string(ob))
		s, _ := url.ParseQuery(string(sb))
		ob, sb = []byte(o.Encode()), []byte(s.Encode())
	}
	if !bytes.Equal(ob, sb) {
		t.Errorf("%s: body\n%s\nthe SDK\n%s", name, ob, sb)
	}
}

func normalJSON(t *testing.T, b []byte) []byte {
	v, err := jsonvalue.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := jsonvalue.Marshal(sortedDeep(jsonvalue.CanonicalNumbers(v)))
	return out
}
