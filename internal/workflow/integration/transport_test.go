package integration

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/velocity-ci/velocity/internal/workflow/asl"
)

// TestRetries shows throttling and 5xx answers retried, at most three
// attempts, and other errors not.
func TestRetries(t *testing.T) {
	var n atomic.Int32
	c := testClient(t, func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) {
		case 1:
			w.WriteHeader(503)
		case 2:
			w.WriteHeader(400)
			fmt.Fprint(w, `{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"slow down"}`)
		default:
			fmt.Fprint(w, `{"Item":{"id":{"S":"x"}}}`)
		}
	})
	out, err := c.Invoke(context.Background(), "arn:aws:states:::aws-sdk:dynamodb:getItem", decode(t, `{"TableName":"t","Key":{"id":{"S":"x"}}}`))
	if err != nil || n.Load() != 3 || marshal(t, out) != `{"Item":{"id":{"S":"x"}}}` {
		t.Errorf("after %d attempts: %s %v", n.Load(), marshal(t, out), err)
	}
	n.Store(10)
	c2 := testClient(t, func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(400)
		fmt.Fprint(w, `{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"no table"}`)
	})
	_, err = c2.Invoke(context.Background(), "arn:aws:states:::dynamodb:getItem", decode(t, `{"TableName":"t","Key":{"id":{"S":"x"}}}`))
	var f *asl.Failure
	if !asErr(err, &f) || f.Name != "DynamoDB.ResourceNotFoundException" || f.Cause != "no table (Service: DynamoDb, Status Code: 400, Error Code: ResourceNotFoundException, Request ID: )" || n.Load() != 11 {
		t.Errorf("%v after %d", err, n.Load()-10)
	}
}

// TestEndpointsAsSDK compares the URLs of AWS's own endpoints with the
// SDK's endpoint rules, S3 buckets as host names or paths included.
func TestEndpointsAsSDK(t *testing.T) {
	ctx := context.Background()
	for _, region := range []string{"us-east-1", "eu-west-1", "ap-southeast-2", "cn-north-1"} {
		c := &Client{region: region}
		sdk := map[string]func() (url.URL, error){
			"dynamodb": func() (url.URL, error) {
				e, err := dynamodb.NewDefaultEndpointResolverV2().ResolveEndpoint(ctx, dynamodb.EndpointParameters{Region: aws.String(region)})
				return e.URI, err
			},
			"lambda": func() (url.URL, error) {
				e, err := lambda.NewDefaultEndpointResolverV2().ResolveEndpoint(ctx, lambda.EndpointParameters{Region: aws.String(region)})
				return e.URI, err
			},
			"sqs": func() (url.URL, error) {
				e, err := sqs.NewDefaultEndpointResolverV2().ResolveEndpoint(ctx, sqs.EndpointParameters{Region: aws.String(region)})
				return e.URI, err
			},
			"sns": func() (url.URL, error) {
				e, err := sns.NewDefaultEndpointResolverV2().ResolveEndpoint(ctx, sns.EndpointParameters{Region: aws.String(region)})
				return e.URI, err
			},
		}
		for svc, resolve := range sdk {
			want, err := resolve()
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.url(&request{service: svc, path: "/"})
			if err != nil {
				t.Fatal(err)
			}
			if got.Scheme+"://"+got.Host != want.Scheme+"://"+want.Host {
				t.Errorf("%s in %s: %s, the SDK %s", svc, region, got, want.String())
			}
		}
		for _, bucket := range []string{"my-bucket", "data01", "Upper_Case", "dotted.name"} {
			e, err := s3.NewDefaultEndpointResolverV2().ResolveEndpoint(ctx, s3.EndpointParameters{Region: aws.String(region), Bucket: aws.String(bucket)})
			if err != nil {
				t.Fatal(err)
			}
			want := e.URI
			got, err := c.url(&request{service: "s3", path: "/a%20b", bucket: bucket})
			if err != nil {
				t.Fatal(err)
			}
			wantPath := want.EscapedPath() + "/a%20b"
			if got.Scheme+"://"+got.Host != want.Scheme+"://"+want.Host || got.EscapedPath() != wantPath {
				t.Errorf("s3 %s in %s: %s, the SDK %s%s", bucket, region, got, want.Scheme+"://"+want.Host, wantPath)
			}
		}
	}
}

// TestClockSkew shows a request refused for a clock hours off signed
// again with the server's time.
func TestClockSkew(t *testing.T) {
	serverTime := time.Now().Add(3 * time.Hour).UTC()
	var dates []string
	c := testClient(t, func(w http.ResponseWriter, r *http.Request) {
		dates = append(dates, r.Header.Get("X-Amz-Date"))
		w.Header().Set("Date", serverTime.Format(http.TimeFormat))
		at, _ := time.Parse(amzDateFormat, r.Header.Get("X-Amz-Date"))
		if at.Sub(serverTime).Abs() > 5*time.Minute {
			w.WriteHeader(403)
			fmt.Fprint(w, `{"__type":"InvalidSignatureException","message":"Signature expired"}`)
			return
		}
		fmt.Fprint(w, `{}`)
	})
	if _, err := c.Invoke(context.Background(), "arn:aws:states:::dynamodb:getItem", decode(t, `{"TableName":"t","Key":{"id":{"S":"x"}}}`)); err != nil || len(dates) != 2 {
		t.Errorf("%v after %v", err, dates)
	}
}
