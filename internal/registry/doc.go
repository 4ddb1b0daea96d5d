// Package registry is a container image registry: the OCI Distribution
// API (v1.1) at /v2/, over content kept in a directory.
//
// Storage is the content: blobs addressed by their digest, shared by
// every repository, and per repository the links that say which blobs
// and manifests it holds and which tags name them. Handler serves the
// API over a Storage; it checks no credentials (the caller puts it
// behind a guard, see RoleOf and Refuse). OnDemand serves it on a
// loopback port with a credential of its own, for the length of a
// process. Collect removes what nothing needs any more.
//
// Every write is a temporary file renamed into place: a process killed
// at any instant leaves either the old state or the new one, and at
// worst an abandoned upload, which Collect removes.
package registry
