package stepfunctions_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/smithy-go"

	"github.com/velocity-ci/velocity/internal/access"
	"github.com/velocity-ci/velocity/internal/stepfunctions"
)

// Reading needs a viewer, anything that changes state a developer.
func TestRoleOf(t *testing.T) {
	for action, want := range map[string]access.Role{
		"DescribeExecution": access.Viewer, "ListStateMachines": access.Viewer, "GetExecutionHistory": access.Viewer,
		"ValidateStateMachineDefinition": access.Viewer, "NoSuchAction": access.Viewer,
		"StartExecution": access.Developer, "CreateStateMachine": access.Developer, "SendTaskSuccess": access.Developer,
		"StopExecution": access.Developer, "DeleteStateMachine": access.Developer,
		"StartSyncExecution": access.Developer, "TestState": access.Developer,
	} {
		r := httptest.NewRequest("POST", "/", nil)
		r.Header.Set("X-Amz-Target", "AWSStepFunctions."+action)
		if !stepfunctions.Target(r) {
			t.Errorf("%s is not taken for the Step Functions API", action)
		}
		if route, role := stepfunctions.RoleOf(r); role != want || route != "AWSStepFunctions."+action {
			t.Errorf("%s: %s needs %s, want %s", action, route, role, want)
		}
	}
}

// The guard's refusals reach the SDK as AWS's error codes.
func TestRefuseInAWSErrorShape(t *testing.T) {
	for code, want := range map[int]string{
		http.StatusUnauthorized: "UnrecognizedClientException",
		http.StatusForbidden:    "AccessDeniedException",
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			stepfunctions.Refuse(w, code, errors.New("not you"))
		}))
		c := sfn.New(sfn.Options{
			Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
			Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		})
		_, err := c.ListStateMachines(context.Background(), &sfn.ListStateMachinesInput{})
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != want || ae.ErrorMessage() != "not you" {
			t.Errorf("refused with %d: %v, want %s", code, err, want)
		}
		srv.Close()
	}
}
