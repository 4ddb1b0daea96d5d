// Package task runs the Task states of workflows on the local machine:
// commands, HTTP calls, child executions, callbacks with task tokens, Lambda
// functions bound to commands or URLs, and mocked responses in the format of
// Step Functions Local's MockConfigFile, so that definitions written for AWS
// run unchanged. Resources is the workflow.Invoker that dispatches to them.
package task
