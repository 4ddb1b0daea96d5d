package integration

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/velocity-ci/velocity/internal/workflow/asl"
	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

// Config says where the integrations go.
type Config struct {
	// Endpoint is the URL every service is called at (LocalStack's
	// http://localhost:4566, a MinIO server, a test server); empty means
	// AWS's own regional endpoints.
	Endpoint string
	// Region overrides the region of the AWS environment variables and
	// files; when neither names one it is us-east-1.
	Region string
	// HTTPClient makes the requests; nil is the SDK's default.
	HTTPClient *http.Client
}

// Client calls the integrations. Region, profile and credentials come
// from the usual AWS environment variables and files (AWS_REGION,
// AWS_PROFILE, AWS_ACCESS_KEY_ID, ~/.aws/config, ...). Safe for
// concurrent use.
type Client struct {
	lambda   *lambda.Client
	sqs      *sqs.Client
	sns      *sns.Client
	dynamodb *dynamodb.Client
	s3       *s3.Client
}

// staticCredentials are used against an endpoint when the environment
// has none: LocalStack and most emulators accept any key.
var staticCredentials = credentials.NewStaticCredentialsProvider("test", "test", "")

// New loads the AWS configuration and builds the service clients.
func New(ctx context.Context, c Config) (*Client, error) {
	opts := []func(*config.LoadOptions) error{}
	if c.Region != "" {
		opts = append(opts, config.WithRegion(c.Region))
	}
	if c.HTTPClient != nil {
		opts = append(opts, config.WithHTTPClient(c.HTTPClient))
	}
	if c.Endpoint != "" {
		// Off AWS there is no instance metadata service to ask, and
		// asking it only delays the fallback below.
		opts = append(opts, config.WithEC2IMDSClientEnableState(imds.ClientDisabled))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("aws configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if c.Endpoint != "" {
		cfg.BaseEndpoint = aws.String(c.Endpoint)
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := cfg.Credentials.Retrieve(rctx)
		cancel()
		if err != nil {
			cfg.Credentials = staticCredentials
		}
		// Emulators often lack the newer default checksums.
		cfg.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		cfg.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	}
	return &Client{
		lambda:   lambda.NewFromConfig(cfg),
		sqs:      sqs.NewFromConfig(cfg),
		sns:      sns.NewFromConfig(cfg),
		dynamodb: dynamodb.NewFromConfig(cfg),
		s3: s3.NewFromConfig(cfg, func(o *s3.Options) {
			// Emulators serve buckets as paths, not as host names.
			o.UsePathStyle = c.Endpoint != ""
		}),
	}, nil
}

// Resource prefixes.
const (
	statesPrefix = "arn:aws:states:::"
	sdkPrefix    = statesPrefix + "aws-sdk:"
)

// call is one resolved Resource.
type call struct {
	svc       *service
	action    string
	op        operation
	optimised bool
}

// resolve finds the operation of a Resource (without .waitForTaskToken);
// ok is false for resources that are not AWS service integrations.
func resolve(resource string) (c call, ok bool, err error) {
	rest, sdk := strings.CutPrefix(resource, sdkPrefix)
	if !sdk {
		if rest, ok = strings.CutPrefix(resource, statesPrefix); !ok {
			return call{}, false, nil
		}
	}
	name, action, _ := strings.Cut(rest, ":")
	action, pattern, _ := strings.Cut(action, ".")
	svc, known := services[name]
	if !sdk {
		if !known || !slices.Contains(svc.optimised, action) {
			return call{}, false, nil // sfn:startExecution, http:invoke, ...: not ours
		}
	}
	if !known {
		return call{}, true, asl.Failf(asl.ErrRuntime, "%s: the service %s is not supported against an AWS endpoint; supported: %s", resource, name, strings.Join(slices.Sorted(maps.Keys(services)), ", "))
	}
	op, found := svc.ops[action]
	if !found {
		return call{}, true, asl.Failf(asl.ErrRuntime, "%s: the action %s of %s is not supported against an AWS endpoint; supported: %s", resource, action, name, strings.Join(slices.Sorted(maps.Keys(svc.ops)), ", "))
	}
	if pattern != "" {
		return call{}, true, asl.Failf(asl.ErrRuntime, "%s: the .%s pattern is not supported against an AWS endpoint (.waitForTaskToken is)", resource, pattern)
	}
	return call{svc: svc, action: action, op: op, optimised: !sdk}, true, nil
}

// Handles reports whether resource (without .waitForTaskToken) is an AWS
// service integration or a Lambda function's ARN, which Invoke calls.
func (c *Client) Handles(resource string) bool {
	if isFunctionARN(resource) {
		return true
	}
	_, ok, _ := resolve(resource)
	return ok
}

// Invoke calls the integration of resource with the task's effective
// parameters and returns its result in Step Functions' form. Failures
// of the service are *asl.Failure named as Step Functions names them.
func (c *Client) Invoke(ctx context.Context, resource string, input any) (any, error) {
	if isFunctionARN(resource) {
		return c.invokeFunction(ctx, resource, input)
	}
	call, ok, err := resolve(resource)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, asl.Failf(asl.ErrRuntime, "%s is not an AWS service integration", resource)
	}
	params, isObj := input.(*jsonvalue.Object)
	if !isObj {
		if input != nil {
			return nil, asl.Failf(asl.ErrRuntime, "the input of resource %s must be a JSON object of its parameters, got %s", resource, kind(input))
		}
		params = &jsonvalue.Object{}
	}
	if call.svc == services["lambda"] && call.action == "invoke" {
		return c.lambdaInvoke(ctx, call, params)
	}
	out, err := call.op(ctx, c, params)
	if err != nil {
		return nil, call.failure(err)
	}
	return call.result(out)
}

// result converts an operation's output; the optimised integrations add
// the response's HTTP metadata, members in alphabetical order as Step
// Functions gives them.
func (c call) result(out any) (any, error) {
	v, err := result(out)
	if err != nil {
		return nil, asl.Failf(asl.ErrTaskFailed, "%v", err)
	}
	obj, ok := v.(*jsonvalue.Object)
	if !c.optimised || !ok {
		return v, nil
	}
	md := metadataOf(out)
	status, headers, requestID := 200, jsonvalue.NewObject(0), ""
	if raw, ok := awsmiddleware.GetRawResponse(md).(*smithyhttp.Response); ok && raw != nil && raw.Response != nil {
		status = raw.StatusCode
		for _, k := range slices.Sorted(maps.Keys(raw.Header)) {
			headers.Set(k, raw.Header.Get(k))
		}
	}
	requestID, _ = awsmiddleware.GetRequestIDMetadata(md)
	obj.Set("SdkHttpMetadata", objectOf("HttpHeaders", headers, "HttpStatusCode", jsonInt(status)))
	rm := jsonvalue.NewObject(1)
	if requestID != "" {
		rm.Set("RequestId", requestID)
	}
	obj.Set("SdkResponseMetadata", rm)
	return sorted(obj), nil
}

// failure names a service error as Step Functions does: for aws-sdk
// integrations Service.ErrorNameException ("S3.NoSuchKeyException"), for
// the optimised ones the service's name as AWS's Java SDK spells it
// ("DynamoDB.ConditionalCheckFailedException", and SQS.AmazonSQSException
// for any SQS error). Errors that are not the service's (the network,
// credentials) are States.TaskFailed.
func (c call) failure(err error) error {
	var f *asl.Failure
	if errors.As(err, &f) {
		return f
	}
	var api smithy.APIError
	if !errors.As(err, &api) {
		return asl.Failf(asl.ErrTaskFailed, "%s:%s: %v", c.svc.sdkName, c.action, err)
	}
	code := api.ErrorCode()
	if i := strings.LastIndexAny(code, ".#"); i >= 0 {
		code = code[i+1:] // AWS.SimpleQueueService.NonExistentQueue, ns#Code
	}
	if !strings.HasSuffix(code, "Exception") {
		code += "Exception"
	}
	cause := fmt.Sprintf("%s (Service: %s, Status Code: %d, Error Code: %s, Request ID: %s)",
		api.ErrorMessage(), c.svc.serviceID, statusOf(err), api.ErrorCode(), requestIDOf(err))
	name := c.svc.sdkName + "." + code
	if c.optimised {
		name = c.svc.optimisedName + "." + code
		if c.svc.optimisedError != "" {
			name = c.svc.optimisedName + "." + c.svc.optimisedError
		}
	}
	return &asl.Failure{Name: name, Cause: cause}
}

func statusOf(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func requestIDOf(err error) string {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.ServiceRequestID()
	}
	return ""
}

// metadataOf is the ResultMetadata of an SDK output structure.
func metadataOf(out any) middleware.Metadata {
	v := reflect.ValueOf(out)
	for v.Kind() == reflect.Pointer && !v.IsNil() {
		v = v.Elem()
	}
	if v.Kind() == reflect.Struct {
		if md, ok := v.FieldByName("ResultMetadata").Interface().(middleware.Metadata); ok {
			return md
		}
	}
	return middleware.Metadata{}
}

func sorted(o *jsonvalue.Object) *jsonvalue.Object {
	keys := o.Keys()
	slices.Sort(keys)
	out := jsonvalue.NewObject(len(keys))
	for _, k := range keys {
		v, _ := o.Get(k)
		out.Set(k, v)
	}
	return out
}

func objectOf(kv ...any) *jsonvalue.Object {
	o := jsonvalue.NewObject(len(kv) / 2)
	for i := 0; i+1 < len(kv); i += 2 {
		o.Set(kv[i].(string), kv[i+1])
	}
	return o
}
