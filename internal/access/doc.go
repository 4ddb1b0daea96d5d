// Package access says who may use the team server's API: it makes,
// lists and revokes API tokens, authenticates the secret a request
// presents, and checks the token's role against what a route needs.
//
// A token's secret is 32 random bytes, shown once when the token is
// made; the store keeps its SHA-256 only, so a copy of the data directory
// does not let anyone in. Roles are ordered, each allowing what the one
// below it does:
//
//	viewer     read: runs, their events, releases, status
//	developer  and act on runs: start, approve, cancel, rerun, deploy, roll back
//	admin      and manage the server: projects, secrets, tokens, shutdown
//
// Failures are of package fault's kinds: fault.Unauthorised when no
// valid token was presented (none, unknown, revoked), fault.Forbidden
// when the token's role is too low, fault.Invalid for a bad name or role,
// fault.Conflict for a name that is taken, fault.NotFound for a token
// that does not exist.
package access
