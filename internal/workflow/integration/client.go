package integration

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"

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
	// HTTPClient makes the requests; nil is http.DefaultClient's
	// transport.
	HTTPClient *http.Client
}

// Client calls the integrations. Region, profile and credentials come
// from the AWS environment variables and shared files, else from the
// container or the instance (see loadAWSEnv).
// Safe for concurrent use.
type Client struct {
	http     *http.Client
	endpoint string
	region   string
	signer   signer
	// credsErr is why there are no credentials, reported by every call.
	credsErr error
	// fetched, when not nil, gives the signer's credentials at each call
	// (temporary ones from the container or the instance).
	fetched  *refresher
	services map[string]*service
}

// testCredentials are used against an endpoint when the environment
// has none: LocalStack and most emulators accept any key.
var testCredentials = credentials{AccessKeyID: "test", SecretAccessKey: "test"}

// New reads the AWS configuration. Without credentials, calls to AWS
// fail with the reason; calls to an endpoint use the key test/test.
func New(ctx context.Context, c Config) (*Client, error) {
	env, err := loadAWSEnv(os.Getenv)
	if err != nil {
		return nil, fmt.Errorf("aws configuration: %w", err)
	}
	region := c.Region
	if region == "" {
		region = env.region
	}
	if region == "" {
		region = "us-east-1"
	}
	creds, credsErr, fetched := env.creds, env.credsErr, env.fetched
	if c.Endpoint != "" && (credsErr != nil || env.fromIMDS) {
		// An emulator's machine is rarely an EC2 instance: asking its
		// metadata would only delay the first call by a timeout.
		creds, credsErr, fetched = testCredentials, nil, nil
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: http.DefaultTransport}
	}
	return &Client{
		http: hc, endpoint: c.Endpoint, region: region,
		signer: signer{creds: creds, region: region}, credsErr: credsErr, fetched: fetched,
		services: services(),
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
	op        opShape
	optimised bool
}

// resolve finds the operation of a Resource (without .waitForTaskToken);
// ok is false for resources that are not AWS service integrations.
func (cl *Client) resolve(resource string) (c call, ok bool, err error) {
	rest, sdk := strings.CutPrefix(resource, sdkPrefix)
	if !sdk {
		if rest, ok = strings.CutPrefix(resource, statesPrefix); !ok {
			return call{}, false, nil
		}
	}
	name, action, _ := strings.Cut(rest, ":")
	action, pattern, _ := strings.Cut(action, ".")
	svc, known := cl.services[name]
	if !sdk {
		if !known || !slices.Contains(svc.optimised, action) {
			return call{}, false, nil // sfn:startExecution, http:invoke, ...: not ours
		}
	}
	if !known {
		return call{}, true, asl.Failf(asl.ErrRuntime, "%s: the service %s is not supported against an AWS endpoint; supported: %s", resource, name, strings.Join(slices.Sorted(maps.Keys(cl.services)), ", "))
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
	_, ok, _ := c.resolve(resource)
	return ok
}

// Invoke calls the integration of resource with the task's effective
// parameters and returns its result in Step Functions' form. Failures
// of the service are *asl.Failure named as Step Functions names them.
func (c *Client) Invoke(ctx context.Context, resource string, input any) (any, error) {
	if isFunctionARN(resource) {
		return c.invokeFunction(ctx, resource, input)
	}
	call, ok, err := c.resolve(resource)
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
	if call.svc.signingName == "lambda" && call.action == "invoke" {
		return c.lambdaInvoke(ctx, call, params)
	}
	in, err := fill(call.op.in, params)
	if err != nil {
		return nil, asl.Failf(asl.ErrRuntime, "%v", err)
	}
	out, resp, err := c.do(ctx, call, in, maxResponse)
	if err != nil {
		return nil, call.failure(err)
	}
	return call.result(out, resp), nil
}

// do sends an operation's request and converts its response.
func (c *Client) do(ctx context.Context, call call, in *jsonvalue.Object, limit int64) (*jsonvalue.Object, *response, error) {
	req, err := encode(call.svc, call.op, in)
	if err != nil {
		return nil, nil, asl.Failf(asl.ErrRuntime, "%v", err)
	}
	if call.svc.signingName == "s3" {
		if err := c.addChecksums(call.action, req); err != nil {
			return nil, nil, asl.Failf(asl.ErrRuntime, "%v", err)
		}
	}
	resp, err := c.send(ctx, req, limit, errorOf(call.svc))
	if err != nil {
		return nil, nil, err
	}
	if call.svc.signingName == "s3" {
		if err := checkChecksum(req, resp); err != nil {
			return nil, nil, err
		}
	}
	out, err := decodeResponse(call.svc, call.op, resp)
	if err != nil {
		return nil, nil, err
	}
	if call.svc.signingName == "sqs" {
		if err := checkMessageDigests(call.action, in, out); err != nil {
			return nil, nil, err
		}
	}
	return out, resp, nil
}

// result adds to an operation's result, for the optimised
// integrations, the response's HTTP metadata, members in alphabetical
// order as Step Functions gives them.
func (c call) result(obj *jsonvalue.Object, resp *response) *jsonvalue.Object {
	if !c.optimised {
		return obj
	}
	headers := jsonvalue.NewObject(len(resp.header))
	for _, k := range slices.Sorted(maps.Keys(resp.header)) {
		headers.Set(k, resp.header.Get(k))
	}
	obj.Set("SdkHttpMetadata", objectOf("HttpHeaders", headers, "HttpStatusCode", jsonInt(resp.status)))
	rm := jsonvalue.NewObject(1)
	if id := resp.requestID(c.svc.signingName); id != "" {
		rm.Set("RequestId", id)
	}
	obj.Set("SdkResponseMetadata", rm)
	return sorted(obj)
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
	var api *apiError
	if !errors.As(err, &api) {
		return asl.Failf(asl.ErrTaskFailed, "%s:%s: %v", c.svc.sdkName, c.action, err)
	}
	code := api.Code
	if i := strings.LastIndexAny(code, ".#"); i >= 0 {
		code = code[i+1:] // AWS.SimpleQueueService.NonExistentQueue, ns#Code
	}
	if !strings.HasSuffix(code, "Exception") {
		code += "Exception"
	}
	cause := fmt.Sprintf("%s (Service: %s, Status Code: %d, Error Code: %s, Request ID: %s)",
		api.Message, c.svc.serviceID, api.Status, api.Code, api.RequestID)
	name := c.svc.sdkName + "." + code
	if c.optimised {
		name = c.svc.optimisedName + "." + code
		if c.svc.optimisedError != "" {
			name = c.svc.optimisedName + "." + c.svc.optimisedError
		}
	}
	return &asl.Failure{Name: name, Cause: cause}
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
