package task

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/velocity-ci/velocity/internal/workflow/asl"
	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

// HTTPResource is the Step Functions HTTP task. Its parameters are
// ApiEndpoint, Method, Headers, QueryParameters, RequestBody and
// Transform.RequestBodyEncoding ("NONE" or "URL_ENCODED"); its result is
// {"Headers": {name: [values]}, "ResponseBody": JSON or text,
// "StatusCode": n, "StatusText": "..."}. A status outside 2xx fails with
// States.Http.StatusCode.NNN.
const HTTPResource = "arn:aws:states:::http:invoke"

// maxResponse bounds a response body kept as a task result.
const maxResponse = 256 << 10

func (r *Resources) httpInvoke(ctx context.Context, input any) (any, error) {
	m, err := object(HTTPResource, input)
	if err != nil {
		return nil, err
	}
	endpoint, err := stringField(HTTPResource, m, "ApiEndpoint", true)
	if err != nil {
		return nil, err
	}
	method, err := stringField(HTTPResource, m, "Method", true)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, asl.Failf(asl.ErrRuntime, "ApiEndpoint %q is not an http or https URL", endpoint)
	}
	if qp, ok := member(m, "QueryParameters").(*jsonvalue.Object); ok {
		q := u.Query()
		for k, v := range qp.All() {
			q.Set(k, scalar(v))
		}
		u.RawQuery = q.Encode()
	}
	var body []byte
	contentType := ""
	if rb := member(m, "RequestBody"); rb != nil {
		encoding := ""
		if tr, ok := member(m, "Transform").(*jsonvalue.Object); ok {
			encoding, _ = member(tr, "RequestBodyEncoding").(string)
		}
		switch {
		case encoding == "URL_ENCODED":
			obj, ok := rb.(*jsonvalue.Object)
			if !ok {
				return nil, asl.Failf(asl.ErrRuntime, "a URL_ENCODED RequestBody must be an object, got %s", kind(rb))
			}
			form := url.Values{}
			for k, v := range obj.All() {
				form.Set(k, scalar(v))
			}
			body, contentType = []byte(form.Encode()), "application/x-www-form-urlencoded"
		default:
			if s, ok := rb.(string); ok {
				body, contentType = []byte(s), "text/plain; charset=utf-8"
			} else if body, err = encode(rb); err != nil {
				return nil, asl.Failf(asl.ErrRuntime, "encode RequestBody: %v", err)
			} else {
				contentType = "application/json"
			}
		}
	}
	req, err := http.NewRequestWithContext(ctx, strings.ToUpper(method), u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, asl.Failf(asl.ErrRuntime, "HTTP task: %v", err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if hs, ok := member(m, "Headers").(*jsonvalue.Object); ok {
		for k, v := range hs.All() {
			req.Header.Set(k, scalar(v))
		}
	}
	resp, err := r.client().Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, asl.Failf(asl.ErrTaskFailed, "%s %s: %v", req.Method, endpoint, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, asl.Failf(asl.ErrTaskFailed, "%s %s: read the response: %v", req.Method, endpoint, err)
	}
	headers := jsonvalue.NewObject(len(resp.Header))
	names := make([]string, 0, len(resp.Header))
	for k := range resp.Header {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		var vals []any
		for _, v := range resp.Header[k] {
			vals = append(vals, v)
		}
		headers.Set(k, vals)
	}
	var respBody any = string(raw)
	if v, err := decode(raw); err == nil && len(bytes.TrimSpace(raw)) > 0 {
		respBody = v
	}
	out := objectOf(
		"Headers", headers,
		"ResponseBody", respBody,
		"StatusCode", jsonInt(resp.StatusCode),
		"StatusText", http.StatusText(resp.StatusCode),
	)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		cause, _ := encode(out)
		return nil, &asl.Failure{Name: fmt.Sprintf("States.Http.StatusCode.%d", resp.StatusCode), Cause: string(cause)}
	}
	return out, nil
}

// scalar renders a parameter value for a header or query string.
func scalar(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := encode(v)
	return string(b)
}

func (r *Resources) client() *http.Client {
	if r.HTTPClient != nil {
		return r.HTTPClient
	}
	return http.DefaultClient
}

// postJSON sends input to a bound URL and decodes the JSON answer; a
// status outside 2xx fails the task with the error the body names, or
// States.TaskFailed.
func (r *Resources) postJSON(ctx context.Context, endpoint string, input any) (any, error) {
	body, err := encode(input)
	if err != nil {
		return nil, asl.Failf(asl.ErrRuntime, "encode the input: %v", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, asl.Failf(asl.ErrRuntime, "binding %s: %v", endpoint, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.client().Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, asl.Failf(asl.ErrTaskFailed, "POST %s: %v", endpoint, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, asl.Failf(asl.ErrTaskFailed, "POST %s: read the response: %v", endpoint, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		if f := errorObject(raw); f != nil {
			return nil, f
		}
		return nil, asl.Failf(asl.ErrTaskFailed, "POST %s: %s: %.500s", endpoint, resp.Status, bytes.TrimSpace(raw))
	}
	v, err := decode(raw)
	if err != nil {
		return nil, asl.Failf(asl.ErrTaskFailed, "POST %s answered with a body that is not JSON (%v): %.200s", endpoint, err, raw)
	}
	return v, nil
}
