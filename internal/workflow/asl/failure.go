package asl

import "github.com/velocity-ci/velocity/internal/workflow/failure"

// Standard error names of the States Language. States.ALL matches every
// name except the terminal ones: AWS documents that neither Retry nor
// Catch on States.ALL handles States.Runtime or States.DataLimitExceeded.
const (
	ErrAll                             = "States.ALL"
	ErrTaskFailed                      = "States.TaskFailed"
	ErrTimeout                         = "States.Timeout"
	ErrHeartbeatTimeout                = "States.HeartbeatTimeout"
	ErrBranchFailed                    = "States.BranchFailed"
	ErrNoChoiceMatched                 = "States.NoChoiceMatched"
	ErrExceedToleratedFailureThreshold = "States.ExceedToleratedFailureThreshold"
	ErrRuntime                         = "States.Runtime"
	ErrPermissions                     = "States.Permissions"
	ErrResultPathMatchFailure          = "States.ResultPathMatchFailure"
	ErrParameterPathFailure            = "States.ParameterPathFailure"
	ErrIntrinsicFailure                = "States.IntrinsicFailure"
	ErrItemReaderFailed                = "States.ItemReaderFailed"
	ErrResultWriterFailed              = "States.ResultWriterFailed"
	ErrQueryEvaluationError            = "States.QueryEvaluationError"
	ErrDataLimitExceeded               = "States.DataLimitExceeded"
	ErrHTTPSocket                      = "States.Http.Socket"
)

// knownErrorNames are the "States." names a Retrier or Catcher may match;
// any other name with that prefix is reserved and rejected by Validate.
var knownErrorNames = map[string]bool{
	ErrAll: true, ErrTaskFailed: true, ErrTimeout: true, ErrHeartbeatTimeout: true,
	ErrBranchFailed: true, ErrNoChoiceMatched: true, ErrExceedToleratedFailureThreshold: true,
	ErrRuntime: true, ErrPermissions: true, ErrResultPathMatchFailure: true,
	ErrParameterPathFailure: true, ErrIntrinsicFailure: true, ErrItemReaderFailed: true,
	ErrResultWriterFailed: true, ErrQueryEvaluationError: true, ErrDataLimitExceeded: true,
	ErrHTTPSocket: true,
}

// Failure is an error with a States Language name: what a failed task,
// state or execution reports and what Retry and Catch match on. It is
// defined in package failure so that payload and intrinsic, which asl
// validates with, can return it without an import cycle.
type Failure = failure.Failure

// Failf returns a Failure named name whose cause is formatted like fmt.Sprintf.
func Failf(name, format string, args ...any) *Failure {
	return failure.Failf(name, format, args...)
}
