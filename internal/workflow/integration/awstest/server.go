// Package awstest is an AWS-compatible HTTP server for tests of the AWS
// integrations: Lambda (REST JSON), DynamoDB and SQS (JSON 1.0 with
// X-Amz-Target), SNS (query) and S3 (REST XML, path-style). It checks
// every request's Signature Version 4 signature by computing it again
// with the SDK's signer and the request's shape for its protocol, and
// keeps tables, queues, topics and objects in memory.
package awstest

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Credentials the server accepts; clients sign with them.
const (
	AccessKey = "AKIDVELOCITYTEST"
	SecretKey = "velocity-test-secret"
	Region    = "us-east-1"
	Account   = "000000000000"
)

// Function is a Lambda function: it gets the payload and returns its
// result, or an error type for a failed invocation.
type Function func(payload []byte) (result []byte, errorType string)

// Server is the test server. Its zero value is not usable: call New.
type Server struct {
	*httptest.Server

	mu        sync.Mutex
	functions map[string]Function
	tables    map[string]*table
	queues    map[string][]Message
	topics    map[string][]string
	objects   map[string][]byte // bucket/key
	calls     []string
	failures  []string
	seq       int
}

// Message is a message sent to a queue.
type Message struct {
	ID, Body string
}

type table struct {
	hashKey string
	items   map[string]map[string]json.RawMessage
}

// New starts a server; Close it when done.
func New() *Server {
	s := &Server{
		functions: map[string]Function{}, tables: map[string]*table{}, queues: map[string][]Message{},
		topics: map[string][]string{}, objects: map[string][]byte{},
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// AddFunction defines a Lambda function.
func (s *Server) AddFunction(name string, f Function) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.functions[name] = f
}

// AddTable creates a DynamoDB table keyed by one string attribute.
func (s *Server) AddTable(name, hashKey string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tables[name] = &table{hashKey: hashKey, items: map[string]map[string]json.RawMessage{}}
}

// AddQueue creates an SQS queue and returns its URL.
func (s *Server) AddQueue(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.URL + "/" + Account + "/" + name
	s.queues[u] = []Message{}
	return u
}

// AddTopic creates an SNS topic and returns its ARN.
func (s *Server) AddTopic(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	arn := "arn:aws:sns:" + Region + ":" + Account + ":" + name
	s.topics[arn] = []string{}
	return arn
}

// PutObject stores an S3 object.
func (s *Server) PutObject(bucket, key string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objects[bucket+"/"+key] = data
}

// Object returns an S3 object's content.
func (s *Server) Object(bucket, key string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.objects[bucket+"/"+key]
	return b, ok
}

// Item returns a DynamoDB item by its hash key's string value, as JSON.
func (s *Server) Item(tableName, key string) (map[string]json.RawMessage, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tables[tableName]
	if !ok {
		return nil, false
	}
	it, ok := t.items[key]
	return it, ok
}

// Messages returns the messages sent to a queue.
func (s *Server) Messages(queueURL string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.queues[queueURL])
}

// Published returns the messages published to a topic.
func (s *Server) Published(topicARN string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.topics[topicARN])
}

// Calls lists the operations served, as "service:Operation".
func (s *Server) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// Failures lists the requests refused for a bad signature or shape.
func (s *Server) Failures() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.failures)
}

func (s *Server) requestID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	return fmt.Sprintf("req-%06d", s.seq)
}

// apiError is an error response in the protocol of the request.
type apiError struct {
	status        int
	code, message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	service, err := s.verify(r, body)
	if err != nil {
		s.mu.Lock()
		s.failures = append(s.failures, fmt.Sprintf("%s %s: %v", r.Method, r.URL, err))
		s.mu.Unlock()
		w.Header().Set("X-Amzn-ErrorType", "SignatureDoesNotMatch")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, `{"__type":"SignatureDoesNotMatch","message":%q}`, err.Error())
		return
	}
	id := s.requestID()
	w.Header().Set("X-Amzn-RequestId", id)
	w.Header().Set("X-Amz-Request-Id", id)
	switch service {
	case "lambda":
		s.lambda(w, r, body)
	case "dynamodb":
		s.jsonProtocol(w, r, body, "dynamodb", "DynamoDB_20120810.", "com.amazonaws.dynamodb.v20120810#", s.dynamodb)
	case "sqs":
		s.jsonProtocol(w, r, body, "sqs", "AmazonSQS.", "com.amazonaws.sqs#", s.sqs)
	case "sns":
		s.sns(w, r, body, id)
	case "s3":
		s.s3(w, r, body, id)
	default:
		s.refuse(w, r, "no service %q", service)
	}
}

func (s *Server) refuse(w http.ResponseWriter, r *http.Request, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.mu.Lock()
	s.failures = append(s.failures, fmt.Sprintf("%s %s: %s", r.Method, r.URL, msg))
	s.mu.Unlock()
	http.Error(w, msg, http.StatusBadRequest)
}

func (s *Server) called(service, op string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, service+":"+op)
}

var authRE = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$`)

// verify checks the request's SigV4 signature by signing a copy holding
// only the signed headers with the SDK's signer, and returns the service
// of the credential scope.
func (s *Server) verify(r *http.Request, body []byte) (string, error) {
	m := authRE.FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil {
		return "", fmt.Errorf("no SigV4 Authorization header: %q", r.Header.Get("Authorization"))
	}
	akid, day, region, service, signed, sig := m[1], m[2], m[3], m[4], m[5], m[6]
	if akid != AccessKey {
		return "", fmt.Errorf("unknown access key %s", akid)
	}
	if region != Region {
		return "", fmt.Errorf("signed for region %s, not %s", region, Region)
	}
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil || at.Format("20060102") != day {
		return "", fmt.Errorf("X-Amz-Date %q does not match the credential scope's day %s", r.Header.Get("X-Amz-Date"), day)
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" && h != "UNSIGNED-PAYLOAD" {
		if h != hash {
			return "", fmt.Errorf("X-Amz-Content-Sha256 %s is not the body's hash %s", h, hash)
		}
	} else if h == "UNSIGNED-PAYLOAD" {
		hash = h
	}
	cp, err := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	cp.Host = r.Host
	cp.ContentLength = r.ContentLength
	for _, h := range strings.Split(signed, ";") {
		switch h {
		case "host", "content-length":
			continue
		}
		vals := r.Header.Values(h)
		if len(vals) == 0 {
			return "", fmt.Errorf("signed header %s is missing", h)
		}
		cp.Header[http.CanonicalHeaderKey(h)] = vals
	}
	signer := v4.NewSigner(func(o *v4.SignerOptions) {
		o.DisableURIPathEscaping = service == "s3"
	})
	creds := aws.Credentials{AccessKeyID: AccessKey, SecretAccessKey: SecretKey}
	if err := signer.SignHTTP(context.Background(), creds, cp, hash, service, region, at); err != nil {
		return "", err
	}
	want := authRE.FindStringSubmatch(cp.Header.Get("Authorization"))
	if want == nil || want[6] != sig {
		return "", fmt.Errorf("signature mismatch (signed headers %s, recomputed over %v)", signed, want)
	}
	return service, nil
}

// lambda serves Invoke: POST /2015-03-31/functions/NAME/invocations.
func (s *Server) lambda(w http.ResponseWriter, r *http.Request, body []byte) {
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), "/2015-03-31/functions/")
	name, ok2 := strings.CutSuffix(rest, "/invocations")
	if !ok || !ok2 || r.Method != http.MethodPost {
		s.refuse(w, r, "not a Lambda Invoke request")
		return
	}
	name, _ = url.PathUnescape(name)
	s.called("lambda", "Invoke")
	if i := strings.LastIndex(name, ":function:"); i >= 0 {
		name = name[i+len(":function:"):]
	}
	name, _, _ = strings.Cut(name, ":")
	s.mu.Lock()
	f, ok := s.functions[name]
	s.mu.Unlock()
	if !ok {
		w.Header().Set("X-Amzn-ErrorType", "ResourceNotFoundException")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"Type":"User","message":"Function not found: arn:aws:lambda:%s:%s:function:%s"}`, Region, Account, name)
		return
	}
	out, errType := f(body)
	w.Header().Set("X-Amz-Executed-Version", "$LATEST")
	if errType != "" {
		w.Header().Set("X-Amz-Function-Error", "Unhandled")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(out)
}

// jsonProtocol serves an awsJson1_0 service: POST / with the operation
// in X-Amz-Target and a JSON body.
func (s *Server) jsonProtocol(w http.ResponseWriter, r *http.Request, body []byte, service, targetPrefix, errPrefix string,
	handle func(op string, in map[string]json.RawMessage) (any, *apiError)) {
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	if !ok || r.Method != http.MethodPost || r.URL.Path != "/" || r.Header.Get("Content-Type") != "application/x-amz-json-1.0" {
		s.refuse(w, r, "not an awsJson1_0 request for %s (X-Amz-Target %q, Content-Type %q)", targetPrefix, r.Header.Get("X-Amz-Target"), r.Header.Get("Content-Type"))
		return
	}
	var in map[string]json.RawMessage
	if err := json.Unmarshal(body, &in); err != nil {
		s.refuse(w, r, "body: %v", err)
		return
	}
	s.called(service, op)
	out, aerr := handle(op, in)
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	if aerr != nil {
		w.WriteHeader(aerr.status)
		json.NewEncoder(w).Encode(map[string]string{"__type": errPrefix + aerr.code, "message": aerr.message})
		return
	}
	json.NewEncoder(w).Encode(out)
}

func str(in map[string]json.RawMessage, k string) string {
	var v string
	json.Unmarshal(in[k], &v)
	return v
}

func (s *Server) dynamodb(op string, in map[string]json.RawMessage) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tables[str(in, "TableName")]
	if !ok {
		return nil, &apiError{400, "ResourceNotFoundException", "Requested resource not found"}
	}
	keyOf := func(item map[string]json.RawMessage) (string, *apiError) {
		var av struct{ S *string }
		if json.Unmarshal(item[t.hashKey], &av) != nil || av.S == nil {
			return "", &apiError{400, "ValidationException", "One of the required keys was not given a value"}
		}
		return *av.S, nil
	}
	var item map[string]json.RawMessage
	field := "Key"
	if op == "PutItem" {
		field = "Item"
	}
	if err := json.Unmarshal(in[field], &item); err != nil {
		return nil, &apiError{400, "ValidationException", field + " is not a map of attribute values"}
	}
	key, aerr := keyOf(item)
	if aerr != nil {
		return nil, aerr
	}
	old, exists := t.items[key]
	if cond := str(in, "ConditionExpression"); strings.HasPrefix(cond, "attribute_not_exists") && exists {
		return nil, &apiError{400, "ConditionalCheckFailedException", "The conditional request failed"}
	}
	switch op {
	case "PutItem":
		t.items[key] = item
		return map[string]any{}, nil
	case "GetItem":
		if !exists {
			return map[string]any{}, nil
		}
		return map[string]any{"Item": old}, nil
	case "DeleteItem":
		delete(t.items, key)
		return map[string]any{}, nil
	case "UpdateItem":
		// SET a = :v[, b = :w] only: enough for the tests.
		var values map[string]json.RawMessage
		json.Unmarshal(in["ExpressionAttributeValues"], &values)
		if !exists {
			old = item
		}
		expr, ok := strings.CutPrefix(str(in, "UpdateExpression"), "SET ")
		if !ok {
			return nil, &apiError{400, "ValidationException", "only SET updates are supported"}
		}
		for _, a := range strings.Split(expr, ",") {
			name, val, _ := strings.Cut(a, "=")
			old[strings.TrimSpace(name)] = values[strings.TrimSpace(val)]
		}
		t.items[key] = old
		return map[string]any{"Attributes": old}, nil
	}
	return nil, &apiError{400, "UnknownOperationException", op}
}

func (s *Server) sqs(op string, in map[string]json.RawMessage) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if op != "SendMessage" {
		return nil, &apiError{400, "UnsupportedOperation", op}
	}
	u := str(in, "QueueUrl")
	q, ok := s.queues[u]
	if !ok {
		return nil, &apiError{400, "QueueDoesNotExist", "The specified queue does not exist."}
	}
	body := str(in, "MessageBody")
	id := fmt.Sprintf("msg-%d", len(q)+1)
	s.queues[u] = append(q, Message{ID: id, Body: body})
	sum := md5.Sum([]byte(body))
	return map[string]string{"MessageId": id, "MD5OfMessageBody": hex.EncodeToString(sum[:])}, nil
}

// sns serves the query protocol: a form POST with Action and Version.
func (s *Server) sns(w http.ResponseWriter, r *http.Request, body []byte, id string) {
	form, err := url.ParseQuery(string(body))
	if err != nil || r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") || form.Get("Version") != "2010-03-31" {
		s.refuse(w, r, "not an SNS query request (Content-Type %q, Version %q)", r.Header.Get("Content-Type"), form.Get("Version"))
		return
	}
	s.called("sns", form.Get("Action"))
	w.Header().Set("Content-Type", "text/xml")
	xmlError := func(status int, code, msg string) {
		w.WriteHeader(status)
		fmt.Fprintf(w, `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>`, code, msg, id)
	}
	if form.Get("Action") != "Publish" {
		xmlError(400, "InvalidAction", "unsupported action")
		return
	}
	s.mu.Lock()
	arn := form.Get("TopicArn")
	msgs, ok := s.topics[arn]
	if ok {
		s.topics[arn] = append(msgs, form.Get("Message"))
	}
	n := len(msgs) + 1
	s.mu.Unlock()
	if !ok {
		xmlError(404, "NotFound", "Topic does not exist")
		return
	}
	fmt.Fprintf(w, `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>pub-%d</MessageId></PublishResult><ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata></PublishResponse>`, n, id)
}

// s3 serves path-style GetObject, PutObject and ListObjectsV2.
func (s *Server) s3(w http.ResponseWriter, r *http.Request, body []byte, id string) {
	path := strings.TrimPrefix(r.URL.Path, "/")
	bucket, key, _ := strings.Cut(path, "/")
	xmlError := func(status int, code, msg string) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(status)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message><RequestId>%s</RequestId></Error>`, code, msg, id)
	}
	switch {
	case r.Method == http.MethodGet && key == "" && r.URL.Query().Get("list-type") == "2":
		s.called("s3", "ListObjectsV2")
		type content struct {
			Key          string
			LastModified string
			ETag         string
			Size         int
			StorageClass string
		}
		res := struct {
			XMLName     xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListBucketResult"`
			Name        string
			Prefix      string
			KeyCount    int
			IsTruncated bool
			Contents    []content
		}{Name: bucket, Prefix: r.URL.Query().Get("prefix")}
		s.mu.Lock()
		for k, data := range s.objects {
			b, name, _ := strings.Cut(k, "/")
			if b == bucket && strings.HasPrefix(name, res.Prefix) {
				sum := md5.Sum(data)
				res.Contents = append(res.Contents, content{Key: name, LastModified: "2026-01-02T03:04:05.000Z",
					ETag: `"` + hex.EncodeToString(sum[:]) + `"`, Size: len(data), StorageClass: "STANDARD"})
			}
		}
		s.mu.Unlock()
		slices.SortFunc(res.Contents, func(a, b content) int { return strings.Compare(a.Key, b.Key) })
		res.KeyCount = len(res.Contents)
		w.Header().Set("Content-Type", "application/xml")
		xml.NewEncoder(w).Encode(res)
	case r.Method == http.MethodGet && key != "":
		s.called("s3", "GetObject")
		data, ok := s.Object(bucket, key)
		if !ok {
			xmlError(404, "NoSuchKey", "The specified key does not exist.")
			return
		}
		sum := md5.Sum(data)
		w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:])+`"`)
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Last-Modified", "Fri, 02 Jan 2026 03:04:05 GMT")
		w.Write(data)
	case r.Method == http.MethodPut && key != "":
		s.called("s3", "PutObject")
		s.PutObject(bucket, key, body)
		sum := md5.Sum(body)
		w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:])+`"`)
	default:
		s.refuse(w, r, "unsupported S3 request")
	}
}
