// Package server is the control API of `velocity serve`: HTTP with JSON
// bodies on a unix socket in the data directory, which the velocity
// command line uses to deploy releases, list them, roll back and see what
// serves. The files of a release are already in the data directory's
// blob store, so a deploy names them by digest and uploads nothing.
//
// It is an adapter: every request is one call of the releases service
// of the host it runs in (velocity serve, or a velocity run that hosts
// its deploys), which journals each deploy before it acts.
//
// Errors map to HTTP statuses in one place (error.go). A deploy answers
// with a stream of events, one JSON object per line: its progress lines
// as they happen and, last, its result or its error.
package server
