// Package server is the control API of `velocity serve`: HTTP with JSON
// bodies on a unix socket in the data directory, which the velocity
// command line uses to deploy releases, list them, roll back and see what
// serves. The files of a release are already in the data directory's
// blob store, so a deploy names them by digest and uploads nothing.
//
// Every deploy is written to the deployment journal (store.Deployments)
// before it is carried out; Recover reads the journal when the server
// starts, brings back what was live and marks what was in progress
// interrupted.
//
// Errors map to HTTP statuses in one place (error.go). A deploy answers
// with a stream of events, one JSON object per line: its progress lines
// as they happen and, last, its result or its error.
package server
