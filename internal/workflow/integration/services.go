package integration

import (
	"context"
	"reflect"
	"strings"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/velocity-ci/velocity/internal/workflow/asl"
	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

// operation calls one API action with the task's parameters and returns
// the SDK's output structure.
type operation func(ctx context.Context, c *Client, params *jsonvalue.Object) (any, error)

// namedOp is an operation and the action name Resources give it.
type namedOp struct {
	name string
	op   operation
}

// op makes the operation of an SDK client method, given as a method
// expression ((*dynamodb.Client).PutItem); client picks the client. The
// action's name is the input type's without "Input", in camelCase
// (PutItemInput: putItem), as aws-sdk Resources spell it.
func op[C, In, Out, O any](client func(*Client) *C, method func(*C, context.Context, *In, ...func(*O)) (*Out, error)) namedOp {
	name := strings.TrimSuffix(reflect.TypeFor[In]().Name(), "Input")
	r := []rune(name)
	r[0] = unicode.ToLower(r[0])
	return namedOp{name: string(r), op: func(ctx context.Context, c *Client, params *jsonvalue.Object) (any, error) {
		in := new(In)
		if err := fill(in, params); err != nil {
			return nil, asl.Failf(asl.ErrRuntime, "%v", err)
		}
		return method(client(c), ctx, in)
	}}
}

// service is one AWS service the integrations reach.
type service struct {
	// sdkName prefixes the error names of aws-sdk integrations (the
	// Java SDK v2's client name: DynamoDb, Sqs); serviceID is the
	// service's own name, in causes.
	sdkName, serviceID string
	// optimisedName prefixes the error names of the optimised
	// integrations (DynamoDB, SQS), and optimisedError, when set, is the
	// one error name they all have (SQS's AmazonSQSException).
	optimisedName, optimisedError string
	// optimised are the actions with an optimised integration
	// (arn:aws:states:::SERVICE:action).
	optimised []string
	// ops are the actions by the name the Resource gives them.
	ops map[string]operation
}

// services is the table of supported services, by the name of their
// Resource (aws-sdk:SERVICE:action).
var services = map[string]*service{
	"lambda": {
		sdkName: "Lambda", serviceID: "Lambda", optimisedName: "Lambda",
		optimised: []string{"invoke"},
		ops: actions(
			op(lambdaClient, (*lambda.Client).Invoke),
			op(lambdaClient, (*lambda.Client).GetFunction),
			op(lambdaClient, (*lambda.Client).ListFunctions),
		),
	},
	"sqs": {
		sdkName: "Sqs", serviceID: "Sqs", optimisedName: "SQS", optimisedError: "AmazonSQSException",
		optimised: []string{"sendMessage"},
		ops: actions(
			op(sqsClient, (*sqs.Client).SendMessage),
			op(sqsClient, (*sqs.Client).SendMessageBatch),
			op(sqsClient, (*sqs.Client).ReceiveMessage),
			op(sqsClient, (*sqs.Client).DeleteMessage),
			op(sqsClient, (*sqs.Client).GetQueueUrl),
			op(sqsClient, (*sqs.Client).GetQueueAttributes),
			op(sqsClient, (*sqs.Client).CreateQueue),
			op(sqsClient, (*sqs.Client).PurgeQueue),
		),
	},
	"sns": {
		sdkName: "Sns", serviceID: "Sns", optimisedName: "SNS",
		optimised: []string{"publish"},
		ops: actions(
			op(snsClient, (*sns.Client).Publish),
			op(snsClient, (*sns.Client).PublishBatch),
			op(snsClient, (*sns.Client).CreateTopic),
			op(snsClient, (*sns.Client).ListTopics),
			op(snsClient, (*sns.Client).Subscribe),
		),
	},
	"dynamodb": {
		sdkName: "DynamoDb", serviceID: "DynamoDb", optimisedName: "DynamoDB",
		optimised: []string{"getItem", "putItem", "updateItem", "deleteItem"},
		ops: actions(
			op(dynamodbClient, (*dynamodb.Client).GetItem),
			op(dynamodbClient, (*dynamodb.Client).PutItem),
			op(dynamodbClient, (*dynamodb.Client).UpdateItem),
			op(dynamodbClient, (*dynamodb.Client).DeleteItem),
			op(dynamodbClient, (*dynamodb.Client).Query),
			op(dynamodbClient, (*dynamodb.Client).Scan),
			op(dynamodbClient, (*dynamodb.Client).BatchGetItem),
			op(dynamodbClient, (*dynamodb.Client).BatchWriteItem),
			op(dynamodbClient, (*dynamodb.Client).TransactWriteItems),
			op(dynamodbClient, (*dynamodb.Client).TransactGetItems),
		),
	},
	"s3": {
		sdkName: "S3", serviceID: "S3",
		ops: actions(
			op(s3Client, (*s3.Client).GetObject),
			op(s3Client, (*s3.Client).PutObject),
			op(s3Client, (*s3.Client).HeadObject),
			op(s3Client, (*s3.Client).DeleteObject),
			op(s3Client, (*s3.Client).CopyObject),
			op(s3Client, (*s3.Client).ListObjectsV2),
			op(s3Client, (*s3.Client).ListBuckets),
			op(s3Client, (*s3.Client).CreateBucket),
		),
	},
}

func lambdaClient(c *Client) *lambda.Client     { return c.lambda }
func sqsClient(c *Client) *sqs.Client           { return c.sqs }
func snsClient(c *Client) *sns.Client           { return c.sns }
func dynamodbClient(c *Client) *dynamodb.Client { return c.dynamodb }
func s3Client(c *Client) *s3.Client             { return c.s3 }

// actions keys operations by action name.
func actions(ops ...namedOp) map[string]operation {
	m := make(map[string]operation, len(ops))
	for _, o := range ops {
		m[o.name] = o.op
	}
	return m
}
