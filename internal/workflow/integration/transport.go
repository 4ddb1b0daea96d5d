package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Bounds of what one call sends and reads: a Step Functions state's
// input is at most 256 KiB, Lambda's synchronous payloads 6 MB.
const (
	maxRequest  = 16 << 20
	maxResponse = 16 << 20
)

// Retries as the AWS SDKs' standard mode does them: at most three
// attempts, for throttling, 5xx and network errors, the delay before
// attempt n random between 0 and 2^n seconds, at most 20 s.
const (
	maxAttempts = 3
	maxBackoff  = 20 * time.Second
)

// throttlingCodes and transientCodes are the error codes the SDKs retry.
var (
	throttlingCodes = []string{"Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
		"TooManyRequestsException", "ProvisionedThroughputExceededException", "TransactionInProgressException",
		"RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled",
		"SlowDown", "PriorRequestNotComplete", "EC2ThrottledException"}
	transientCodes  = []string{"RequestTimeout", "RequestTimeoutException", "InternalError"}
	transientStatus = []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout}
)

// apiError is an error a service answered with: its code, message,
// HTTP status and request ID.
type apiError struct {
	Code, Message, RequestID string
	Status                   int
}

func (e *apiError) Error() string {
	return fmt.Sprintf("api error %s: %s", e.Code, e.Message)
}

// request is one call of an operation, ready to be addressed and signed.
type request struct {
	service string // the signing name: lambda, s3, ...
	method  string
	path    string // escaped, from the root of the service's endpoint
	query   url.Values
	header  http.Header
	body    []byte
	bucket  string // S3: the bucket the path is relative to, if any
}

// response is a service's answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// requestID is the ID the service gave the request, in the header
// where the service gives it.
func (r *response) requestID(service string) string {
	if service == "s3" {
		return r.header.Get("X-Amz-Request-Id")
	}
	return r.header.Get("X-Amzn-Requestid")
}

// url is where a request goes: the configured endpoint, or the region's
// endpoint of the service; S3 buckets as paths at an endpoint and as
// host names at AWS when their names allow it.
func (c *Client) url(r *request) (*url.URL, error) {
	base, bucket := c.endpoint, r.bucket
	if base == "" {
		domain := "amazonaws.com"
		if strings.HasPrefix(c.region, "cn-") {
			domain = "amazonaws.com.cn"
		}
		base = "https://" + r.service + "." + c.region + "." + domain
		if bucket != "" && virtualHostable(bucket) {
			base, bucket = "https://"+bucket+".s3."+c.region+"."+domain, ""
		}
	}
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("endpoint %q: %w", base, err)
	}
	path := r.path
	if bucket != "" {
		if path == "/" {
			path = ""
		}
		path = "/" + uriEscape(bucket, true) + path
	}
	raw := strings.TrimSuffix(u.EscapedPath(), "/") + path
	if u.Path, err = url.PathUnescape(raw); err != nil {
		return nil, fmt.Errorf("path %q: %w", raw, err)
	}
	u.RawPath = raw
	u.RawQuery = strings.ReplaceAll(r.query.Encode(), "+", "%20")
	// The Host header leaves out a default port, as the signature does.
	u.Host = withoutDefaultPort(u.Scheme, u.Host)
	return u, nil
}

// withoutDefaultPort is host without the scheme's default port.
func withoutDefaultPort(scheme, host string) string {
	switch scheme {
	case "https":
		return strings.TrimSuffix(host, ":443")
	case "http":
		return strings.TrimSuffix(host, ":80")
	}
	return host
}

// virtualHostable reports a bucket name usable as a host name label.
func virtualHostable(b string) bool {
	if len(b) < 3 || len(b) > 63 || strings.Contains(b, "..") || strings.HasPrefix(b, "-") || strings.HasSuffix(b, "-") {
		return false
	}
	for _, c := range b {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return !strings.Contains(b, ".") // dotted names break TLS's wildcard
}

// send signs and sends a request, retrying as the SDKs do, and returns
// the response, or an *apiError made by parseError from an error
// response. Bodies of more than limit bytes are an error.
func (c *Client) send(ctx context.Context, r *request, limit int64, parseError func(*response) *apiError) (*response, error) {
	if c.credsErr != nil {
		return nil, c.credsErr
	}
	sg := c.signer
	if c.fetched != nil {
		creds, err := c.fetched.get(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, err
		}
		sg.creds = creds
	}
	if len(r.body) > maxRequest {
		return nil, fmt.Errorf("the request is %d bytes, more than %d", len(r.body), maxRequest)
	}
	u, err := c.url(r)
	if err != nil {
		return nil, err
	}
	payloadHash := sha256Hex(r.body)
	var skew time.Duration // the server's clock ahead of ours, once it says so
	for attempt := 1; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, r.method, u.String(), bytes.NewReader(r.body))
		if err != nil {
			return nil, err
		}
		req.URL = u
		for k, vs := range r.header {
			req.Header[k] = slices.Clone(vs)
		}
		if len(r.body) == 0 {
			req.Body, req.GetBody, req.ContentLength = http.NoBody, nil, 0
		}
		if r.service == "s3" {
			req.Header.Set("X-Amz-Content-Sha256", payloadHash)
		}
		req.Header.Set("User-Agent", "velocity")
		sg.sign(req, r.service, payloadHash, time.Now().Add(skew))
		resp, err := c.http.Do(req)
		var out *response
		retry := false
		if err == nil {
			if out, err = read(resp, limit); errors.Is(err, errTooLarge) {
				return nil, err
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			retry = true // the network, a reset connection
		} else if out.status >= 300 {
			ae := parseError(out)
			ae.Status = out.status
			if id := out.requestID(r.service); id != "" {
				ae.RequestID = id
			}
			err = ae
			retry = slices.Contains(transientStatus, out.status) || slices.Contains(throttlingCodes, ae.Code) ||
				slices.Contains(transientCodes, ae.Code) || out.status == http.StatusTooManyRequests
			if d, ok := clockSkew(out, ae.Code); ok {
				// A refused signature from a clock minutes off: sign again
				// with the server's time, as the SDKs do.
				skew, retry = d, true
			}
		} else {
			return out, nil
		}
		if !retry || attempt >= maxAttempts {
			return nil, err
		}
		delay := time.Duration(rand.Float64() * float64(min(time.Duration(1<<attempt)*time.Second, maxBackoff)))
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// skewCodes are the errors a signature made with a wrong clock gets.
var skewCodes = []string{"RequestTimeTooSkewed", "RequestExpired", "RequestInTheFuture", "InvalidSignatureException", "SignatureDoesNotMatch", "AuthFailure"}

// clockSkew is how far the server's clock (its Date header) is ahead of
// ours, when an error says the signature's time was refused and the
// clocks are more than four minutes apart.
func clockSkew(r *response, code string) (time.Duration, bool) {
	if !slices.Contains(skewCodes, code) {
		return 0, false
	}
	date, err := http.ParseTime(r.header.Get("Date"))
	if err != nil {
		return 0, false
	}
	d := time.Until(date)
	if d.Abs() < 4*time.Minute {
		return 0, false
	}
	return d, true
}

var errTooLarge = errors.New("the response is larger")

func read(resp *http.Response, limit int64) (*response, error) {
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read the response: %w", err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w than %d bytes", errTooLarge, limit)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: b}, nil
}
