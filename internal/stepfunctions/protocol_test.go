package stepfunctions_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/velocity-ci/velocity/internal/stepfunctions"
)

// Clients other than the SDKs (curl, scripts) see AWS's error shape: a
// status 400 and {"__type", "message"}, also for an action not served.
func TestErrorShape(t *testing.T) {
	srv := httptest.NewServer(&stepfunctions.Handler{})
	defer srv.Close()
	for target, want := range map[string]string{
		"AWSStepFunctions.CreateActivity":    "UnknownOperationException",
		"AWSStepFunctions.DescribeExecution": "InvalidArn",
	} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/", strings.NewReader(`{"executionArn": "x"}`))
		req.Header.Set("X-Amz-Target", target)
		req.Header.Set("Content-Type", "application/x-amz-json-1.0")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		err = json.NewDecoder(res.Body).Decode(&body)
		res.Body.Close()
		if err != nil || res.StatusCode != http.StatusBadRequest || body.Type != want || body.Message == "" {
			t.Errorf("%s: %d %+v (%v), want 400 %s", target, res.StatusCode, body, err, want)
		}
	}
}
