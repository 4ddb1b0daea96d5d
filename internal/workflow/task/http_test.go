package task

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

func TestHTTPInvoke(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/missing" {
			http.Error(w, "no such thing", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Seen", r.Header.Get("X-Api-Key"))
		w.Write([]byte(`{"method":"` + r.Method + `","q":"` + r.URL.Query().Get("page") + `","type":"` + r.Header.Get("Content-Type") + `","body":` + quote(string(body)) + `}`))
	}))
	defer srv.Close()
	r := &Resources{}
	out, err := invoke(t, r, HTTPResource, mustJSON(t, `{"ApiEndpoint": "`+srv.URL+`/items", "Method": "post",
		"Headers": {"X-Api-Key": "k1"}, "QueryParameters": {"page": 2}, "RequestBody": {"name": "a"}}`))
	if err != nil {
		t.Fatal(err)
	}
	m := out.(*jsonvalue.Object)
	if asJSON(t, member(m, "StatusCode")) != "200" || member(m, "StatusText") != "OK" {
		t.Errorf("status %v %v", member(m, "StatusCode"), member(m, "StatusText"))
	}
	if got := asJSON(t, member(m, "ResponseBody")); got != `{"method":"POST","q":"2","type":"application/json","body":"{\"name\":\"a\"}"}` {
		t.Errorf("response body %s", got)
	}
	if h := member(m, "Headers").(*jsonvalue.Object); asJSON(t, member(h, "X-Seen")) != `["k1"]` {
		t.Errorf("headers %v", h)
	}
	// Form encoding.
	out, err = invoke(t, r, HTTPResource, mustJSON(t, `{"ApiEndpoint": "`+srv.URL+`/f", "Method": "PUT",
		"RequestBody": {"a": "1 2", "b": 3}, "Transform": {"RequestBodyEncoding": "URL_ENCODED"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if body := member(out.(*jsonvalue.Object), "ResponseBody").(*jsonvalue.Object); member(body, "body") != "a=1+2&b=3" || member(body, "type") != "application/x-www-form-urlencoded" {
		t.Errorf("form body %v", body)
	}
	_, err = invoke(t, r, HTTPResource, mustJSON(t, `{"ApiEndpoint": "`+srv.URL+`/missing", "Method": "GET"}`))
	if f := failure(t, err); f.Name != "States.Http.StatusCode.404" || !strings.Contains(f.Cause, "no such thing") {
		t.Errorf("404: %+v", f)
	}
	_, err = invoke(t, r, HTTPResource, mustJSON(t, `{"ApiEndpoint": "ftp://x", "Method": "GET"}`))
	if f := failure(t, err); f.Name != "States.Runtime" {
		t.Errorf("bad endpoint: %+v", f)
	}
}

func quote(s string) string {
	b, _ := encode(s)
	return string(b)
}
