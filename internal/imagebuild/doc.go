// Package imagebuild builds container images from a directory of the
// run's workspace and a Dockerfile, through the Docker Engine API, and
// pushes them to a registry.
//
// The build context is archived here, in Go, and sent as the body of the
// build request: .dockerignore is applied while archiving, symlinks are
// archived as symlinks (never followed out of the context) and file modes
// are kept. Nothing is read from outside the context directory but a
// Dockerfile the action names outside it.
//
// Builds use BuildKit (builder version 2 of the Engine API). Tried against
// Docker 20.10 (API 1.41): for a context uploaded as a tar stream the
// engine needs no client session, so BuildKit's faster and better-cached
// builds come without a gRPC session or the buildx client. Its progress
// reaches the client as "moby.buildkit.trace" messages whose payload is a
// protobuf StatusResponse; this package decodes the few fields it shows
// (steps, their logs and errors) with protowire rather than importing
// BuildKit. An engine that refuses BuildKit (Windows) gets the classic
// builder, whose "stream" lines are shown as they come.
//
// A cancelled context stops the build: the request is closed and the
// engine is asked to cancel the build by its ID.
package imagebuild
