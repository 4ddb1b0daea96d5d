// Package workflow runs Amazon States Language state machines (JSONPath
// query language) durably.
//
// Every history event is appended to the Journal before the interpreter
// acts on it. Run with an execution's recorded History resumes it: the
// interpreter walks the definition again, consuming recorded events
// instead of acting, and uses the recorded outputs of states and Map
// iterations that finished, so they never run again.
//
// Delivery is at least once for tasks: a Task that was scheduled or
// started but has no recorded result when the process stopped is invoked
// again on resume (with the same task token). Resources that must not
// repeat their effect should be idempotent or check the token.
package workflow
