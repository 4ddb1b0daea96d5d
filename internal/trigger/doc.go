// Package trigger holds the mechanisms that start runs by themselves:
// webhook verification and parsing (GitHub, GitLab, Gitea/Forgejo) into a
// provider-neutral Push, cron schedules with their catch-up rule, and the
// Scheduler that fires them on a Clock, keeping each schedule's last fire
// in the store so that a server back from downtime fires a missed
// schedule once and servers sharing a store fire each due time once.
//
// It serves no HTTP and starts no run: the server reads a request, hands
// its headers and raw body here, and acts on the Event it gets back (or
// maps the error's fault kind to a status: Unauthorised for a missing or
// wrong signature, Invalid for a body that is not a push it can trust).
// Nothing of a payload is passed on unchecked: refs are checked against
// git's ref rules, commit ids are 40 or 64 hex digits, names carry no
// control characters, so none of it can smuggle text into a log line or
// a command.
package trigger
