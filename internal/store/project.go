package store

import (
	"context"
	"time"
)

// Project is a team server's project: a repository the server keeps a
// bare mirror of, whose commits start runs.
type Project struct {
	// Name is unique; runs of the project carry it as Run.Project.
	Name string `json:"name"`
	// Repo is where the mirror fetches from; "" for a project fed only
	// by pushes to the built-in remote.
	Repo string `json:"repo"`
	// Branch is the branch whose new commits start runs.
	Branch string `json:"branch"`
	// Poll is how often Repo is fetched; 0 never.
	Poll time.Duration `json:"poll"`
	// Mode is the execution mode (queued, superseded, parallel), kept
	// as given; the projects service gives it meaning.
	Mode string `json:"mode"`
	// WebhookSecret verifies the project's webhooks; nil refuses them.
	// It is opaque to the store: the projects service seals it with the
	// data directory's secret key. Only the server reads it back: the API
	// shows whether one is set.
	WebhookSecret []byte `json:"webhook_secret"`
	// AlertWebhook is where the project's alerts are posted (failed runs
	// of Branch, failed deploys, rollbacks); nil for none. Opaque to the
	// store like WebhookSecret: the projects service seals the URL, which
	// is a credential for chat webhooks.
	AlertWebhook []byte    `json:"alert_webhook"`
	Created      time.Time `json:"created"`
	// Head is the last commit of Branch the server saw, "" before the
	// first fetch; polling compares a fetched head with it.
	Head string `json:"head"`
}

// Projects keeps the projects of a team server, beside the Store in the
// same implementations and checked by the storetest suite (RunProjects).
// Methods are safe for concurrent use, also from several processes.
type Projects interface {
	// CreateProject records p. A project of the same name is an error
	// wrapping fault.Conflict.
	CreateProject(ctx context.Context, p Project) error
	// Project returns the project named name, or an error wrapping
	// ErrNotFound.
	Project(ctx context.Context, name string) (Project, error)
	// Projects returns every project, ordered by name.
	Projects(ctx context.Context) ([]Project, error)
	// UpdateProject replaces the record of the project named p.Name
	// (Created excepted). No such project is an error wrapping
	// ErrNotFound.
	UpdateProject(ctx context.Context, p Project) error
	// SetProjectHead records head as the last commit of the project's
	// branch seen. No such project is an error wrapping ErrNotFound.
	SetProjectHead(ctx context.Context, name, head string) error
	// DeleteProject forgets the project named name and its requests; its
	// runs stay. No such project is an error wrapping ErrNotFound.
	DeleteProject(ctx context.Context, name string) error
}

// RequestState is where a request of a project's queue stands.
type RequestState string

// Request states. A request is waiting until it is taken (started), or
// replaced by a newer one (superseded), or its run could not start
// (failed).
const (
	RequestWaiting    RequestState = "waiting"
	RequestStarted    RequestState = "started"
	RequestSuperseded RequestState = "superseded"
	RequestFailed     RequestState = "failed"
)

// Request is a trigger in a project's queue: a commit to run, recorded
// before the trigger is answered so that none is lost to a crash.
type Request struct {
	ID      int64  `json:"id"`
	Project string `json:"project"`
	Commit  string `json:"commit"`
	Branch  string `json:"branch"`
	// Trigger says who or what asked ("push by alice", "poll", …).
	Trigger string       `json:"trigger"`
	State   RequestState `json:"state"`
	// Run is the run started for the request; 0 until then (and for a
	// request taken whose run has not been created yet).
	Run int64 `json:"run"`
	// Reason explains a superseded or failed request.
	Reason   string    `json:"reason"`
	Received time.Time `json:"received"`
	// Updated is when the state last changed.
	Updated time.Time `json:"updated"`
}

// RequestFilter narrows Requests.
type RequestFilter struct {
	// Project and State, when set, keep only requests of that project
	// and in that state.
	Project string
	State   RequestState
	// Limit caps the number of requests, oldest first; 0 means no cap.
	Limit int
}

// Requests is the queues of a team server's projects, beside the Store
// in the same implementations and checked by the storetest suite
// (RunRequests). Methods are safe for concurrent use, also from several
// processes; each change of state is one atomic step.
type Requests interface {
	// AddRequest records r as waiting (r.ID, State, Run and Reason are
	// ignored) and returns its ID; IDs grow with each request.
	AddRequest(ctx context.Context, r Request) (int64, error)
	// AddDeliveredRequest records webhook delivery d and, when the
	// delivery was not recorded before, r as waiting, in one transaction:
	// a delivery is never marked seen without its request, nor queued
	// twice. seen reports an earlier record of d (then nothing changes
	// and id is 0). As Deliveries.RecordDelivery, of several callers at
	// once exactly one sees seen == false.
	AddDeliveredRequest(ctx context.Context, d Delivery, r Request) (id int64, seen bool, err error)
	// Request returns one request, or an error wrapping ErrNotFound.
	Request(ctx context.Context, id int64) (Request, error)
	// Requests lists requests by f, oldest first.
	Requests(ctx context.Context, f RequestFilter) ([]Request, error)
	// TakeRequest moves a waiting request to started, without a run yet.
	// Of several callers taking one request, exactly one succeeds; the
	// others, and any caller taking a request that is not waiting, get
	// an error wrapping fault.Conflict. No such request wraps ErrNotFound.
	TakeRequest(ctx context.Context, id int64, at time.Time) error
	// SetRequestRun records the run started for a taken request.
	SetRequestRun(ctx context.Context, id, run int64) error
	// FailRequest marks a request that is waiting, or taken without a
	// run, failed with reason.
	FailRequest(ctx context.Context, id int64, reason string, at time.Time) error
	// SupersedeRequests marks every waiting request of project older than
	// request newer superseded with reason, and returns them.
	SupersedeRequests(ctx context.Context, project string, newer int64, reason string, at time.Time) ([]Request, error)
	// ReturnUntaken puts the requests of project taken without a run
	// back to waiting (their process stopped between taking them and
	// starting the run), and returns how many. Only the one dispatcher of
	// the project may call it.
	ReturnUntaken(ctx context.Context, project string, at time.Time) (int, error)
}
