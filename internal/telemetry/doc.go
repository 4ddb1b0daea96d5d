// Package telemetry is a server's Prometheus metrics: the collectors that
// count runs, actions, cache hits, deploys, workflow transitions and
// journal writes, fed through the small hooks runs and releases declare
// (runs.Hook, releases.Meter) and through wrappers of the journal, so
// that no other package imports Prometheus for them. Each Metrics has a
// registry of its own: several servers (and tests) share a process.
package telemetry
