package integration

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// TestSignatureVectors checks signatures against examples AWS publishes:
// its Signature Version 4 test suite (service "service") and the S3
// GetObject example of the S3 API reference.
func TestSignatureVectors(t *testing.T) {
	suite := credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}
	at := time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, method, url, service string
		creds                      credentials
		at                         time.Time
		header                     map[string]string
		want                       string
	}{
		{"get-vanilla", "GET", "https://example.amazonaws.com/", "service", suite, at, nil,
			"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
		{"post-vanilla", "POST", "https://example.amazonaws.com/", "service", suite, at, nil,
			"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
		{"get-vanilla-query-order-key-case", "GET", "https://example.amazonaws.com/?Param2=value2&Param1=value1", "service", suite, at, nil,
			"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
		{"s3-get-object", "GET", "https://examplebucket.s3.amazonaws.com/test.txt", "s3",
			credentials{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
			time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC),
			map[string]string{"Range": "bytes=0-9", "X-Amz-Content-Sha256": sha256Hex(nil)},
			"AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"},
	} {
		req, err := http.NewRequest(tc.method, tc.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range tc.header {
			req.Header.Set(k, v)
		}
		signer{creds: tc.creds, region: "us-east-1"}.sign(req, tc.service, sha256Hex(nil), tc.at)
		if got := req.Header.Get("Authorization"); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
}

// TestSignatureAsSDK signs requests of the shapes the protocols send
// with this signer and the AWS SDK's and compares the headers.
func TestSignatureAsSDK(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	for _, creds := range []credentials{
		{AccessKeyID: "AKID", SecretAccessKey: "secret"},
		{AccessKeyID: "ASIA", SecretAccessKey: "secret/with+chars", SessionToken: "token=="},
	} {
		for _, tc := range []struct {
			service, method, url, body string
			header                     map[string]string
		}{
			{"dynamodb", "POST", "https://dynamodb.eu-west-1.amazonaws.com/", `{"TableName":"t"}`,
				map[string]string{"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.GetItem"}},
			{"lambda", "POST", "http://127.0.0.1:4566/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Af/invocations?Qualifier=%24LATEST", `{"a": 1}`,
				map[string]string{"X-Amz-Invocation-Type": "  RequestResponse  ", "X-Amz-Client-Context": "a  b"}},
			{"lambda", "GET", "https://lambda.us-east-1.amazonaws.com:443/2015-03-31/functions/?MaxItems=10&Marker=a%2Bb%20c", "", nil},
			{"sns", "POST", "https://sns.us-east-1.amazonaws.com/", "Action=Publish&Message=hi%20there&Version=2010-03-31",
				map[string]string{"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}},
			{"s3", "PUT", "http://localhost:9000/bucket/dir/a%20b%2Bc~%21.json", "[1,2]",
				map[string]string{"Content-Type": "application/octet-stream", "X-Amz-Meta-Who": "me", "X-Amz-Content-Sha256": sha256Hex([]byte("[1,2]"))}},
			{"s3", "GET", "https://bucket.s3.us-east-1.amazonaws.com/?list-type=2&prefix=in%2F&continuation-token=a%3D%3D", "",
				map[string]string{"X-Amz-Content-Sha256": sha256Hex(nil)}},
		} {
			mk := func() *http.Request {
				req, err := http.NewRequest(tc.method, tc.url, bytes.NewReader([]byte(tc.body)))
				if err != nil {
					t.Fatal(err)
				}
				if tc.body == "" {
					req.Body, req.ContentLength = http.NoBody, 0
				}
				for k, v := range tc.header {
					req.Header.Set(k, v)
				}
				return req
			}
			hash := sha256Hex([]byte(tc.body))
			ours := mk()
			signer{creds: creds, region: "eu-west-1"}.sign(ours, tc.service, hash, at)
			theirs := mk()
			sdk := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = tc.service == "s3" })
			err := sdk.SignHTTP(context.Background(), aws.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey, SessionToken: creds.SessionToken},
				theirs, hash, tc.service, "eu-west-1", at)
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token"} {
				if got, want := ours.Header.Get(h), theirs.Header.Get(h); got != want {
					t.Errorf("%s %s %s:\n got %s\nwant %s", tc.method, tc.url, h, got, want)
				}
			}
			if strings.Contains(ours.Header.Get("Authorization"), "user-agent") {
				t.Error("User-Agent signed")
			}
		}
	}
}
