package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/workflow/asl"
	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

func decode(t testing.TB, js string) *jsonvalue.Object {
	t.Helper()
	v, err := jsonvalue.Decode([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	return v.(*jsonvalue.Object)
}

func marshal(t testing.TB, v any) string {
	t.Helper()
	b, err := jsonvalue.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// testClient is a client of a server answering with handle, with fixed
// keys and no AWS files.
func testClient(t *testing.T, handle http.HandlerFunc) *Client {
	t.Helper()
	srv := httptest.NewServer(handle)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKID")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_REGION", "eu-west-1")
	c, err := New(context.Background(), Config{Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestQueryProtocol checks SNS's form encoding of structures, lists and
// maps, and the reading of wrapped lists and booleans from its XML.
func TestQueryProtocol(t *testing.T) {
	var form url.Values
	c := testClient(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		form, _ = url.ParseQuery(string(b))
		w.Header().Set("X-Amzn-RequestId", "rid")
		fmt.Fprint(w, `<PublishBatchResponse><PublishBatchResult><Successful><member><Id>a</Id><MessageId>m1</MessageId></member></Successful>`+
			`<Failed><member><Id>b</Id><Code>X</Code><SenderFault>true</SenderFault></member></Failed></PublishBatchResult></PublishBatchResponse>`)
	})
	out, err := c.Invoke(context.Background(), "arn:aws:states:::aws-sdk:sns:publishBatch", decode(t,
		`{"TopicArn":"arn:t","PublishBatchRequestEntries":[{"Id":"a","Message":{"x":1},"MessageAttributes":{"k":{"DataType":"String","StringValue":"v"}}},{"Id":"b","Message":"m"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := url.Values{
		"Action": {"PublishBatch"}, "Version": {"2010-03-31"}, "TopicArn": {"arn:t"},
		"PublishBatchRequestEntries.member.1.Id": {"a"}, "PublishBatchRequestEntries.member.1.Message": {`{"x":1}`},
		"PublishBatchRequestEntries.member.1.MessageAttributes.entry.1.Name":              {"k"},
		"PublishBatchRequestEntries.member.1.MessageAttributes.entry.1.Value.DataType":    {"String"},
		"PublishBatchRequestEntries.member.1.MessageAttributes.entry.1.Value.StringValue": {"v"},
		"PublishBatchRequestEntries.member.2.Id":                                          {"b"}, "PublishBatchRequestEntries.member.2.Message": {"m"},
	}
	if form.Encode() != want.Encode() {
		t.Errorf("form\n got %s\nwant %s", form.Encode(), want.Encode())
	}
	if got := marshal(t, out); got != `{"Failed":[{"Code":"X","Id":"b","SenderFault":true}],"Successful":[{"Id":"a","MessageId":"m1"}]}` {
		t.Errorf("result %s", got)
	}
}

// TestRESTXML checks S3's headers, flattened and wrapped lists,
// timestamps and the error of a HEAD request, which has no body.
func TestRESTXML(t *testing.T) {
	var got []string
	c := testClient(t, func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Method+" "+r.URL.RequestURI()+" "+r.Header.Get("X-Amz-Meta-Owner")+" "+r.Header.Get("Content-Type"))
		switch {
		case r.Method == "HEAD":
			w.WriteHeader(404)
		case r.Method == "GET" && r.URL.Path == "/":
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>o</ID></Owner><Buckets><Bucket><Name>a</Name><CreationDate>2026-01-02T03:04:05.000Z</CreationDate></Bucket><Bucket><Name>b</Name></Bucket></Buckets></ListAllMyBucketsResult>`)
		case r.Method == "GET":
			fmt.Fprint(w, `<ListBucketResult><Name>bk</Name><KeyCount>1</KeyCount><IsTruncated>false</IsTruncated><Contents><Key>k</Key><Size>3</Size></Contents><CommonPrefixes><Prefix>p/</Prefix></CommonPrefixes><CommonPrefixes><Prefix>q/</Prefix></CommonPrefixes></ListBucketResult>`)
		case r.Method == "PUT":
			w.Header().Set("ETag", `"e"`)
			w.Header().Set("Last-Modified", "Fri, 02 Jan 2026 03:04:05 GMT")
		}
	})
	ctx := context.Background()
	out, err := c.Invoke(ctx, "arn:aws:states:::aws-sdk:s3:putObject", decode(t, `{"Bucket":"bk","Key":"a b/c+d","Body":"x","ContentType":"text/plain","Metadata":{"Owner":"me"}}`))
	if err != nil || marshal(t, out) != `{"ETag":"\"e\""}` {
		t.Errorf("putObject %s %v", marshal(t, out), err)
	}
	out, err = c.Invoke(ctx, "arn:aws:states:::aws-sdk:s3:listObjectsV2", decode(t, `{"Bucket":"bk","Prefix":"p"}`))
	if err != nil || marshal(t, out) != `{"CommonPrefixes":[{"Prefix":"p/"},{"Prefix":"q/"}],"Contents":[{"Key":"k","Size":3}],"IsTruncated":false,"KeyCount":1,"Name":"bk"}` {
		t.Errorf("listObjectsV2 %s %v", marshal(t, out), err)
	}
	out, err = c.Invoke(ctx, "arn:aws:states:::aws-sdk:s3:listBuckets", nil)
	if err != nil || marshal(t, out) != `{"Buckets":[{"CreationDate":"2026-01-02T03:04:05Z","Name":"a"},{"Name":"b"}],"Owner":{"ID":"o"}}` {
		t.Errorf("listBuckets %s %v", marshal(t, out), err)
	}
	_, err = c.Invoke(ctx, "arn:aws:states:::aws-sdk:s3:headObject", decode(t, `{"Bucket":"bk","Key":"none"}`))
	var f *asl.Failure
	if !asErr(err, &f) || f.Name != "S3.NotFoundException" || !strings.Contains(f.Cause, "Status Code: 404") {
		t.Errorf("headObject: %v", err)
	}
	want := []string{"PUT /bk/a%20b/c%2Bd me text/plain", "GET /bk?list-type=2&prefix=p  ", "GET /  ", "HEAD /bk/none  "}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func asErr(err error, f **asl.Failure) bool {
	x, ok := err.(*asl.Failure)
	*f = x
	return ok
}

// FuzzResponse feeds arbitrary bodies and headers to the readers of
// every operation's responses and errors: they may refuse, never panic.
func FuzzResponse(f *testing.F) {
	f.Add(`{"Item":{"id":{"S":"x"}},"Count":3}`, "X-Amzn-ErrorType", "Throttling:http")
	f.Add(`<ListBucketResult><Contents><Key>k</Key><Size>1</Size></Contents></ListBucketResult>`, "Last-Modified", "Fri, 02 Jan 2026 03:04:05 GMT")
	f.Add(`<PublishResponse><PublishResult><MessageId>m</MessageId></PublishResult></PublishResponse>`, "X-Amz-Function-Error", "Unhandled")
	f.Add(`<Error><Code>NoSuchKey</Code><Message>m</Message></Error>`, "Content-Length", "x")
	f.Add(`{"Functions":[{"FunctionName":"f","CodeSize":"x","LastModified":1.5}]}`, "x-amz-meta-a", "b")
	svcs := services()
	f.Fuzz(func(t *testing.T, body, header, value string) {
		resp := &response{status: 200, header: http.Header{http.CanonicalHeaderKey(header): {value}}, body: []byte(body)}
		for _, svc := range svcs {
			for _, op := range svc.ops {
				out, err := decodeResponse(svc, op, resp)
				if err == nil {
					if _, err := json.Marshal(marshalable{out}); err != nil {
						t.Fatalf("%s: result not JSON: %v", op.name, err)
					}
				}
			}
			errorOf(svc)(resp)
		}
	})
}

type marshalable struct{ v *jsonvalue.Object }

func (m marshalable) MarshalJSON() ([]byte, error) { return jsonvalue.Marshal(m.v) }
