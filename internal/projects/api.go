// Package projects is the application service of a team server's
// projects: git repositories with a velocity.yml that the server keeps a
// bare mirror of, and the triggers that start their runs (a push to the
// built-in git remote, a forge's webhook, polling, schedules, a person).
// Every trigger becomes a request in the project's queue, recorded in the
// store before the trigger is answered; the queue starts runs by the
// project's execution mode.
package projects

import (
	"time"

	"github.com/velocity-ci/velocity/internal/store"
)

// Mode is how a project's requests become runs, as CodePipeline's
// execution modes.
type Mode string

// Execution modes.
const (
	// Queued runs one request at a time, in the order they came.
	Queued Mode = "queued"
	// Superseded runs one at a time too, but a newer request replaces
	// one still waiting; the running one finishes.
	Superseded Mode = "superseded"
	// Parallel starts every request at once.
	Parallel Mode = "parallel"
)

// AddRequest is what `velocity project add` and POST /api/v1/projects
// ask for.
type AddRequest struct {
	Name string `json:"name"`
	// Repo is a URL git can fetch, or a path on the server; "" makes a
	// project fed only by pushes to the built-in remote.
	Repo string `json:"repo"`
	// Branch is the branch whose commits start runs; "" is main, or the
	// repository's only branch, or master when it has no main.
	Branch string `json:"branch,omitempty"`
	// Poll, when not zero, fetches Repo that often and starts a run for
	// each new head of Branch.
	Poll time.Duration `json:"poll,omitempty"`
	Mode Mode          `json:"mode,omitempty"`
	// WebhookSecret verifies the project's webhooks; empty refuses them.
	WebhookSecret []byte `json:"webhook_secret,omitempty"`
	// AlertWebhook, when set, is an http(s) URL that failed runs of
	// Branch, failed deploys and rollbacks are posted to as
	// Slack-compatible JSON ({"text": "..."}).
	AlertWebhook string `json:"alert_webhook,omitempty"`
}

// Project is a project as the API shows it (never its webhook secret).
type Project struct {
	Name   string        `json:"name"`
	Repo   string        `json:"repo"`
	Branch string        `json:"branch"`
	Poll   time.Duration `json:"poll"`
	Mode   Mode          `json:"mode"`
	// Webhooks reports whether a webhook secret is set.
	Webhooks bool `json:"webhooks"`
	// Alerts reports whether an alert webhook is set (never its URL).
	Alerts  bool      `json:"alerts"`
	Created time.Time `json:"created"`
	// Head is the last commit of Branch the server saw ("" before the
	// first fetch).
	Head string `json:"head"`
}

// Details is one project with its recent runs and waiting requests.
type Details struct {
	Project
	Runs    []store.Run `json:"runs"`
	Waiting []Request   `json:"waiting"`
}

// TriggerRequest asks for a run of a project.
type TriggerRequest struct {
	// Ref is a branch, tag or commit of the project's repository; ""
	// is the project's branch. A branch is fetched first.
	Ref string `json:"ref,omitempty"`
	// Trigger says who or what asked, for the run's record ("manual by
	// token alice"); the service fills it for the triggers it runs.
	Trigger string `json:"-"`
}

// Request is a trigger waiting in (or gone through) a project's queue.
type Request struct {
	ID      int64  `json:"id"`
	Project string `json:"project"`
	Commit  string `json:"commit"`
	Branch  string `json:"branch"`
	Trigger string `json:"trigger"`
	// State is waiting, started, superseded or failed; Run is set once
	// started.
	State    string    `json:"state"`
	Run      int64     `json:"run,omitempty"`
	Reason   string    `json:"reason,omitempty"`
	Received time.Time `json:"received"`
}

// Outcome is what a webhook delivery came to.
type Outcome string

// Webhook outcomes, each with its HTTP status in the server.
const (
	Accepted  Outcome = "accepted"  // 202: a request is queued
	Duplicate Outcome = "duplicate" // 200: the delivery id was seen before
	Ignored   Outcome = "ignored"   // 202: another branch, a tag, a deletion
	Pong      Outcome = "ping"      // 200: the forge's check of a new hook
)

// WebhookResult is the answer to a webhook: what came of it, why, and the
// request it queued.
type WebhookResult struct {
	Outcome Outcome  `json:"outcome"`
	Message string   `json:"message"`
	Request *Request `json:"request,omitempty"`
}

// RefUpdate is one ref a push to the built-in remote changed.
type RefUpdate struct {
	Ref    string `json:"ref"`
	Before string `json:"before"`
	After  string `json:"after"`
}
