package projects

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/velocity-ci/velocity/internal/fault"
	"github.com/velocity-ci/velocity/internal/mirror"
	"github.com/velocity-ci/velocity/internal/runs"
	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/trigger"
)

// Mirrors keeps the bare mirror of each project's repository. Methods are
// called from any goroutine; errors say what went wrong with git.
type Mirrors interface {
	// Path is the mirror of the project named name.
	Path(name string) string
	// Create makes the mirror: a clone of repo, or an empty bare
	// repository when repo is "".
	Create(ctx context.Context, name, repo string) error
	// Fetch brings the mirror up to date with its repository; no-op for
	// a mirror without one.
	Fetch(ctx context.Context, name string) error
	// Resolve turns a branch, tag or commit into a full commit id; an
	// unknown ref is fault.NotFound.
	Resolve(ctx context.Context, name, ref string) (string, error)
	// Heads maps each branch ("refs/heads/main") to its commit.
	Heads(ctx context.Context, name string) (map[string]string, error)
	// File is the file at path in commit; fault.NotFound when absent.
	File(ctx context.Context, name, commit, path string) ([]byte, error)
	// Remove deletes the mirror.
	Remove(name string) error
}

// Runner starts and waits for runs: a *runs.Service.
type Runner interface {
	Start(ctx context.Context, req runs.StartRequest) (int64, error)
	Wait(ctx context.Context, id int64) (runs.Result, error)
	// Live reports whether the run executes in this process.
	Live(id int64) bool
}

// Sealer encrypts webhook secrets for the journal, so that a copy of the
// database alone does not let anyone sign webhooks: a *secret.Store,
// whose key stays apart from the journal.
type Sealer interface {
	Seal(purpose string, value []byte) ([]byte, error)
	Unseal(purpose string, sealed []byte) ([]byte, error)
}

// Store is what the service keeps in the journal.
type Store interface {
	store.Projects
	store.Requests
	// Leases keep one dispatcher per project among the processes that
	// share the journal.
	store.Leases
	Runs(ctx context.Context, f store.RunFilter) ([]store.Run, error)
}

// Config is what a Service needs, built by the composition root.
type Config struct {
	Store   Store
	Runs    Runner
	Mirrors Mirrors
	// Sealer, when set, seals webhook secrets before they are stored;
	// nil stores them as given (the journal is private to the server's
	// user either way).
	Sealer Sealer
	// Template is what every run starts with (Jobs, PortRange, NoServe…);
	// the service sets Dir, Commit, Project, Branch and Trigger. Jobs
	// below 1 is 1.
	Template runs.StartRequest
	// Schedules, when set, is run by Run beside the dispatchers until
	// its ctx ends (the scheduler's loop, which queues with Trigger).
	Schedules func(ctx context.Context) error
	// Changed, when set, is called after a project was added or removed
	// or its branch moved: what its schedules are may have changed.
	Changed func()
	// Log receives what happens to requests; nil: slog.Default().
	Log *slog.Logger
	// Now is the clock of records; nil: time.Now.
	Now func() time.Time
	// ShowRuns is how many recent runs Show lists; 0 is 20.
	ShowRuns int
	// LeaseTTL is how long a project's dispatcher lease outlives a
	// process that died holding it, and so how long the requests of a
	// crashed server wait before its successor starts them; 0 is 10s.
	LeaseTTL time.Duration
}

// Service is the projects of one data directory. It is safe for
// concurrent use.
type Service struct {
	cfg Config
	// holder is this process's name in the dispatchers' leases.
	holder string
	// kick tells Run that a project was added.
	kick chan struct{}
	mu   sync.Mutex
	// wake holds one channel per project, signalled when its queue got a
	// request; dispatching holds the projects with a dispatcher.
	wake        map[string]chan struct{}
	dispatching map[string]bool
}

// New makes a Service.
func New(cfg Config) *Service {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ShowRuns <= 0 {
		cfg.ShowRuns = 20
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = 10 * time.Second
	}
	return &Service{cfg: cfg, holder: store.NewHolder(), kick: make(chan struct{}, 1), wake: map[string]chan struct{}{}, dispatching: map[string]bool{}}
}

// validName is a project name: it names a directory, a URL path segment
// and a git remote, so it is kept to what is safe in all three.
var validName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`) })

const maxName = 64

// minPoll keeps a mistyped --poll from fetching in a tight loop.
const minPoll = time.Second

func checkName(name string) error {
	if len(name) > maxName || !validName().MatchString(name) {
		return fault.Invalidf("project name %q: use up to %d lower-case letters, digits, '.', '_' or '-', starting with a letter or digit", name, maxName)
	}
	return nil
}

func (m Mode) valid() bool { return m == Queued || m == Superseded || m == Parallel }

// Add registers a project: it makes the bare mirror (cloning Repo when
// set) and records the project. A name in use is fault.Conflict; a bad
// name, mode or repository fault.Invalid.
func (s *Service) Add(ctx context.Context, req AddRequest) (Project, error) {
	if err := checkName(req.Name); err != nil {
		return Project{}, err
	}
	if req.Mode == "" {
		req.Mode = Queued
	}
	if !req.Mode.valid() {
		return Project{}, fault.Invalidf("mode %q: use queued, superseded or parallel", req.Mode)
	}
	if req.Branch != "" {
		if err := trigger.CheckBranch(req.Branch); err != nil {
			return Project{}, err
		}
	}
	switch {
	case req.Poll < 0 || req.Poll > 0 && req.Poll < minPoll:
		return Project{}, fault.Invalidf("poll interval %s: use 0 (no polling) or at least %s", req.Poll, minPoll)
	case req.Poll > 0 && req.Repo == "":
		return Project{}, fault.Invalidf("project %s polls but has no repository to poll: give --repo", req.Name)
	}
	if _, err := s.cfg.Store.Project(ctx, req.Name); err == nil {
		return Project{}, fault.Conflictf("a project named %s exists", req.Name)
	} else if !errors.Is(err, store.ErrNotFound) {
		return Project{}, err
	}
	secret, err := s.seal(req.Name, req.WebhookSecret)
	if err != nil {
		return Project{}, err
	}
	alerts, err := s.sealAlerts(req.Name, req.AlertWebhook)
	if err != nil {
		return Project{}, err
	}
	if err := s.cfg.Mirrors.Create(ctx, req.Name, req.Repo); err != nil {
		return Project{}, fmt.Errorf("project %s: %w", req.Name, err)
	}
	heads, err := s.cfg.Mirrors.Heads(ctx, req.Name)
	if err != nil {
		s.cfg.Log.Warn("listing the branches of a new project", "project", req.Name, "err", err)
	}
	if req.Branch == "" {
		req.Branch = defaultBranch(heads)
	}
	rec := store.Project{Name: req.Name, Repo: req.Repo, Branch: req.Branch, Poll: req.Poll, Mode: string(req.Mode),
		WebhookSecret: secret, AlertWebhook: alerts, Created: s.cfg.Now()}
	// The branch's head now is what polling compares with: adding a
	// project starts no run, its next commit does.
	rec.Head = heads["refs/heads/"+req.Branch]
	if err := s.cfg.Store.CreateProject(ctx, rec); err != nil {
		if rerr := s.cfg.Mirrors.Remove(req.Name); rerr != nil {
			s.cfg.Log.Warn("the mirror of a project that could not be recorded stays", "project", req.Name, "err", rerr)
		}
		return Project{}, err
	}
	s.cfg.Log.Info("project added", "project", req.Name, "repo", mirror.Redact(req.Repo), "branch", req.Branch, "mode", req.Mode, "poll", req.Poll)
	select {
	case s.kick <- struct{}{}:
	default:
	}
	s.changed()
	return shown(rec), nil
}

// defaultBranch is the branch a project follows when none is given:
// main, else the repository's only branch, else master, else main (an
// empty repository, fed by pushes).
func defaultBranch(heads map[string]string) string {
	if _, ok := heads["refs/heads/main"]; ok || len(heads) == 0 {
		return "main"
	}
	if len(heads) == 1 {
		for ref := range heads {
			return strings.TrimPrefix(ref, "refs/heads/")
		}
	}
	if _, ok := heads["refs/heads/master"]; ok {
		return "master"
	}
	return "main"
}

// sealPurpose binds a project's sealed webhook secret to the project.
func sealPurpose(name string) string { return "webhook secret of project " + name }

// seal is the webhook secret as stored.
func (s *Service) seal(name string, secret []byte) ([]byte, error) {
	if len(secret) == 0 || s.cfg.Sealer == nil {
		return secret, nil
	}
	return s.cfg.Sealer.Seal(sealPurpose(name), secret)
}

// unseal is the webhook secret of p as given.
func (s *Service) unseal(p store.Project) ([]byte, error) {
	if len(p.WebhookSecret) == 0 || s.cfg.Sealer == nil {
		return p.WebhookSecret, nil
	}
	return s.cfg.Sealer.Unseal(sealPurpose(p.Name), p.WebhookSecret)
}

// shown is a project as the API shows it.
func shown(p store.Project) Project {
	// The repository's URL may carry credentials: only the server uses
	// them; people and logs see them hidden.
	return Project{Name: p.Name, Repo: mirror.Redact(p.Repo), Branch: p.Branch, Poll: p.Poll, Mode: Mode(p.Mode),
		Webhooks: len(p.WebhookSecret) > 0, Alerts: len(p.AlertWebhook) > 0, Created: p.Created, Head: p.Head}
}

// List returns every project, by name.
func (s *Service) List(ctx context.Context) ([]Project, error) {
	recs, err := s.cfg.Store.Projects(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Project, len(recs))
	for i, p := range recs {
		out[i] = shown(p)
	}
	return out, nil
}

// Show returns one project with its recent runs and waiting requests.
func (s *Service) Show(ctx context.Context, name string) (Details, error) {
	p, err := s.cfg.Store.Project(ctx, name)
	if err != nil {
		return Details{}, err
	}
	d := Details{Project: shown(p), Runs: []store.Run{}, Waiting: []Request{}}
	recent, err := s.cfg.Store.Runs(ctx, store.RunFilter{Project: name, Limit: s.cfg.ShowRuns})
	if err != nil {
		return Details{}, err
	}
	d.Runs = append(d.Runs, recent...)
	waiting, err := s.cfg.Store.Requests(ctx, store.RequestFilter{Project: name, State: store.RequestWaiting})
	if err != nil {
		return Details{}, err
	}
	for _, r := range waiting {
		d.Waiting = append(d.Waiting, request(r))
	}
	return d, nil
}

// request is a stored request as the API shows it.
func request(r store.Request) Request {
	return Request{ID: r.ID, Project: r.Project, Commit: r.Commit, Branch: r.Branch, Trigger: r.Trigger,
		State: string(r.State), Run: r.Run, Reason: r.Reason, Received: r.Received}
}

// Remove forgets a project and deletes its mirror; its runs stay in the
// journal.
func (s *Service) Remove(ctx context.Context, name string) error {
	if err := s.cfg.Store.DeleteProject(ctx, name); err != nil {
		return err
	}
	// Its dispatcher finds the project gone and stops.
	s.wakeProject(name)
	if err := s.cfg.Mirrors.Remove(name); err != nil {
		return fmt.Errorf("project %s is forgotten, but its mirror stays: %w", name, err)
	}
	s.cfg.Log.Info("project removed", "project", name)
	s.changed()
	return nil
}

// MirrorDir is the bare mirror of the project named name, for the git
// remote to serve; fault.NotFound for an unknown project.
func (s *Service) MirrorDir(ctx context.Context, name string) (string, error) {
	if _, err := s.cfg.Store.Project(ctx, name); err != nil {
		return "", err
	}
	return s.cfg.Mirrors.Path(name), nil
}

func (s *Service) changed() {
	if s.cfg.Changed != nil {
		s.cfg.Changed()
	}
}
