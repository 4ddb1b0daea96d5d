// Package runs is the use case "run a pipeline": start a run of a
// project at a commit, watch it as a stream of events, cancel it, approve
// its stages, and read past runs. It knows no terminal and no HTTP: the
// console, the API's server-sent events and the web page are all
// watchers of the same stream.
package runs

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/velocity-ci/velocity/internal/artifact"
	"github.com/velocity-ci/velocity/internal/engine"
	"github.com/velocity-ci/velocity/internal/executor"
	"github.com/velocity-ci/velocity/internal/store"
)

// Executor is what runs actions' processes; Close ends what it still
// holds (the reaper of orphans).
type Executor interface {
	executor.Executor
	Close() error
}

// Config is what a Service needs, built by the caller from the data
// directory.
type Config struct {
	// Store is the journal.
	Store store.Store
	// Leases, when set, records which process executes each run, so that
	// other nodes sharing the store see the owner (and take over only when
	// its lease expires); nil relies on lock files alone.
	Leases store.Leases
	// LeaseTTL is how long a run's lease outlives a process that stopped
	// renewing it: how soon another node may take the run over. Zero is
	// store.DefaultLeaseTTL.
	LeaseTTL time.Duration
	// Holder names this process in leases (see store.NewHolder); ""
	// makes one up.
	Holder string
	// DataDir holds locks/, workspaces/, tmp/ and logs/ of runs.
	DataDir string
	// Blobs stores outputs, logs and caches.
	Blobs *artifact.Blobs
	// Secrets may be nil when no action names a secret.
	Secrets engine.Secrets
	// ExplainKey keys the hashes recorded to explain cache misses.
	ExplainKey []byte
	// NewExecutor makes the executor of one run.
	NewExecutor func() (Executor, error)
	// Deploys may be nil when no run deploys.
	Deploys Deploys
	// Workflows may be nil when no run starts a workflow.
	Workflows Workflows
	// Images may be nil when no run builds an image.
	Images Images
	// Evict keeps the blob store within limit bytes; it is called after
	// each run. Nil never evicts.
	Evict func(ctx context.Context, limit int64)
	// Environ is the environment actions start from (before the
	// pipeline's env_passthrough filters it).
	Environ []string
	// Version is part of every result-cache key.
	Version string
	// Logger decides which log records of a run become messages of its
	// stream (its level); nil keeps warnings and errors.
	Logger *slog.Logger
	// History bounds the bytes of events a run keeps in memory for
	// watchers who come late or fall behind; 0 is 16 MiB.
	History int
	// PollElsewhere, when set, has Watch and Follow of a live run that
	// another process executes (another node) read the journal again
	// this often until the run ends, so that its watchers see it go on;
	// zero shows such a run as the journal holds it and ends there.
	PollElsewhere time.Duration
	// Server is where the process that owns the data directory's
	// deploys listens, and HostName what it is ("velocity serve" when
	// nil), for the Deployed event of runs that deploy through it.
	Server   string
	HostName func(ctx context.Context) string
	// Owner names the command executing the runs ("velocity serve"). It
	// is written into each run's lock file with the run's request (see
	// LockNote), so that the command that finds the run's owner dead can
	// say whose death interrupted it, and the owner can resume it; empty
	// writes nothing.
	Owner string
	// OnFinished, when set, is told of each run this service executed
	// once its end is journaled, before the hosting of what it deployed
	// (a trace exporter). It is called on the run's goroutine before the
	// run's stream closes: it should hand work off rather than do it.
	OnFinished func(ctx context.Context, r Result)
	// Hook, when set, is told how runs and their actions end.
	Hook Hook
}

// Service runs pipelines. It is safe for concurrent use.
type Service struct {
	cfg Config
	// holder is this process's name in leases.
	holder string
	mu     sync.Mutex
	// live holds the runs this service executes, and the latest few that
	// ended, so that a watcher who asks just after the end still gets
	// every event.
	live     map[int64]*liveRun
	finished []int64
	// envs keeps deploy stages of one environment from running at once.
	envs environments
}

// keptFinished is how many ended runs keep their full event stream in
// memory; older ones are replayed from the journal and their logs.
const keptFinished = 16

// New makes a Service.
func New(cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	holder := cfg.Holder
	if holder == "" {
		holder = store.NewHolder()
	}
	return &Service{cfg: cfg, live: map[int64]*liveRun{}, holder: holder}
}

// Result is how a run ended.
type Result struct {
	Run store.Run
	// Err is set when the run stopped for a reason of Velocity's own (the
	// journal could not be written), not the pipeline's.
	Err error
}

// liveRun is a run executing in this process.
type liveRun struct {
	feed      *feed
	cancel    context.CancelFunc
	force     chan struct{}
	forceOnce sync.Once
	done      chan struct{}
	result    Result
}

// Live reports whether run id executes in this process now: a run
// another process executes, or one that ended, is not live.
func (s *Service) Live(id int64) bool { return s.lookup(id) != nil }

// Executing lists the runs this service executes now, oldest first,
// and not those that ended.
func (s *Service) Executing() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int64
	for id, r := range s.live {
		select {
		case <-r.done:
		default:
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// Executes reports whether this process executes run id now.
func (s *Service) Executes(id int64) bool {
	r := s.lookup(id)
	if r == nil {
		return false
	}
	select {
	case <-r.done:
		return false
	default:
		return true
	}
}

func (s *Service) lookup(id int64) *liveRun {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.live[id]
}

func (s *Service) register(id int64, r *liveRun) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.live[id] = r
}

// ended keeps r's stream for late watchers, forgetting the oldest ended
// run beyond keptFinished.
func (s *Service) ended(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.finished = append(s.finished, id)
	if len(s.finished) > keptFinished {
		delete(s.live, s.finished[0])
		s.finished = s.finished[1:]
	}
}

// Watch streams the events of run id after cursor from: what happened so
// far, then live events until the run's stream ends or ctx does, when the
// channel closes. Every watcher sees the same sequence. A watcher that
// falls further behind than the run keeps (see Config.History) gets a
// warning in place of the events it missed. A run this process does not
// execute is replayed from the journal and its logs.
func (s *Service) Watch(ctx context.Context, id int64, from Cursor) (<-chan Event, error) {
	return s.watch(ctx, id, from, false)
}

// Follow is Watch for the one who renders the run as it goes (its
// terminal): the run waits for this watcher when it falls behind, as it
// waits for a slow terminal, and so it misses nothing.
func (s *Service) Follow(ctx context.Context, id int64, from Cursor) (<-chan Event, error) {
	return s.watch(ctx, id, from, true)
}

func (s *Service) watch(ctx context.Context, id int64, from Cursor, follow bool) (<-chan Event, error) {
	if r := s.lookup(id); r != nil {
		return r.feed.watch(ctx, from, follow), nil
	}
	f, err := s.replay(ctx, id)
	if err != nil {
		return nil, err
	}
	if s.cfg.PollElsewhere > 0 {
		return s.elsewhere(ctx, id, from, f), nil
	}
	return f.watch(ctx, from, false), nil
}

// Cancel stops run id: running actions get SIGTERM, nothing new starts
// but finally actions, which force skips as well (a second Ctrl-C).
// Errors: ErrNotRunning when this process does not execute the run.
func (s *Service) Cancel(ctx context.Context, id int64, force bool) error {
	r := s.lookup(id)
	if r == nil {
		return fmt.Errorf("run %d: %w", id, ErrNotRunning)
	}
	select {
	case <-r.done:
		return fmt.Errorf("run %d has ended: %w", id, ErrNotRunning)
	default:
	}
	r.cancel()
	if force {
		r.forceOnce.Do(func() { close(r.force) })
	}
	return nil
}

// Wait blocks until run id has ended, including the hosting of what it
// deployed, and returns how. A run this process does not execute is read
// from the journal; ErrNotRunning when it has not ended yet.
func (s *Service) Wait(ctx context.Context, id int64) (Result, error) {
	if r := s.lookup(id); r != nil {
		select {
		case <-r.done:
			return r.result, nil
		case <-ctx.Done():
			return Result{}, ctx.Err()
		}
	}
	run, err := s.cfg.Store.Run(ctx, id)
	if err != nil {
		return Result{}, err
	}
	if !run.Status.Final() {
		return Result{}, fmt.Errorf("run %d: %w", id, ErrNotRunning)
	}
	return Result{Run: run}, nil
}

func (s *Service) lockPath(token string) string {
	return filepath.Join(s.cfg.DataDir, "locks", token+".lock")
}

func (s *Service) workspacesDir() string { return filepath.Join(s.cfg.DataDir, "workspaces") }

func (s *Service) logDir(id int64) string {
	return filepath.Join(s.cfg.DataDir, "logs", fmt.Sprint(id))
}

func (s *Service) scratch(token string) string { return filepath.Join(s.cfg.DataDir, "tmp", token) }
