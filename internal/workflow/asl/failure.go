package asl

import "github.com/velocity-ci/velocity/internal/workflow/failure"

// Standard error names of the States Language. States.ALL matches every
// error except States.Runtime in a Retrier (the spec says a runtime error
// is not retriable) and is only allowed alone and last.
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
)

// knownErrorNames are the "States." names a Retrier or Catcher may match;
// any other name with that prefix is reserved and rejected by Validate.
var knownErrorNames = map[string]bool{
	ErrAll: true, ErrTaskFailed: true, ErrTimeout: true, ErrHeartbeatTimeout: true,
	ErrBranchFailed: true, ErrNoChoiceMatched: true, ErrExceedToleratedFailureThreshold: true,
	ErrRuntime: true, ErrPermissions: true, ErrResultPathMatchFailure: true,
	ErrParameterPathFailure: true, ErrIntrinsicFailure: true, ErrItemReaderFailed: true,
	ErrResultWriterFailed: true, ErrQueryEvaluationError: true,
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
