// Package executions holds the use cases of workflow executions: start
// one from a definition file (and wait for its end, or leave it to run
// in the background), describe, stop, redrive, list and read the history
// of executions, answer task tokens, resume executions whose process
// died, and run the workflow actions of a pipeline.
//
// It knows no terminal and no HTTP: what a person sees of an execution's
// progress is handed to callbacks, and the adapters (the command line,
// the server) render it.
package executions
