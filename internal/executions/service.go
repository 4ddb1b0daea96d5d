package executions

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/workflow"
)

// Config is what the service is built from.
type Config struct {
	// Store holds the executions, their histories and task tokens.
	Store store.Workflows
	// Leases, when set, records which process runs each execution, so
	// that another node sees the owner and takes over only when its lease
	// expires; nil relies on the lock files of DataDir alone.
	Leases store.Leases
	// LeaseTTL is how long the lease of an execution outlives a process
	// that stops renewing it (killed, crashed, cut off): how soon
	// another node takes the execution over. Default
	// store.DefaultLeaseTTL.
	LeaseTTL time.Duration
	// DataDir is the data directory: execution locks live in its locks
	// directory, the background resumer logs to logs/workflow-resume.log,
	// and errors name it.
	DataDir string
	// Log gets what operators need (executions that stopped with an
	// error, watchdog problems).
	Log *slog.Logger
	// Limits bound the trees of executions that tasks start.
	Limits store.TreeLimits
	// Poll is how often waiting loops (a concurrency slot, a child, a
	// stop request) look at the store; default 100ms.
	Poll time.Duration
	// ResumeCommand is the command line of a process that runs
	// ResumeOrphans for DataDir (velocity --data-dir DIR workflow resume).
	// Executions whose process died are handed to it in the background;
	// empty, they wait for an explicit ResumeOrphans.
	ResumeCommand []string
}

// Service runs executions in this process: it waits for their
// concurrency slot, holds their lock while it runs them, journals their
// history in the store and runs the children their tasks start.
//
// Its methods may be called from several goroutines at once.
type Service struct {
	st       store.Workflows
	leases   store.Leases
	leaseTTL time.Duration
	holder   string // this process's name in leases
	host     string // holders on this host are alive only while they hold their lock
	dataDir  string
	log      *slog.Logger
	limits   store.TreeLimits
	poll     time.Duration
	resume   []string
	reaper   *lazyReaper

	// ctx bounds executions this process runs on its own (children,
	// adopted executions); abandon cancels it, which shuts them down
	// resumable.
	ctx     context.Context
	abandon context.CancelFunc

	mu     sync.Mutex
	active map[int64]bool // executions running in this process
	bg     sync.WaitGroup
}

// New builds the service; ctx bounds the executions it runs in the
// background. Close it when done.
func New(ctx context.Context, c Config) *Service {
	ctx, abandon := context.WithCancel(ctx)
	log := c.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	poll := c.Poll
	if poll <= 0 {
		poll = 100 * time.Millisecond
	}
	holder := store.NewHolder()
	host, _, _ := strings.Cut(holder, "/")
	ttl := c.LeaseTTL
	if ttl <= 0 {
		ttl = store.DefaultLeaseTTL
	}
	return &Service{
		st: c.Store, leases: c.Leases, leaseTTL: ttl, holder: holder, host: host, dataDir: c.DataDir, log: log, limits: c.Limits, poll: poll, resume: c.ResumeCommand,
		reaper: &lazyReaper{log: log}, ctx: ctx, abandon: abandon, active: map[int64]bool{},
	}
}

// Close waits for executions still running in the background (children
// started without .sync), then stops the crash watchdog.
func (s *Service) Close() {
	s.bg.Wait()
	s.abandon()
	s.reaper.close()
}

// Abandon stops waiting for the executions this process runs: each
// stays as journaled, resumable by the next process.
func (s *Service) Abandon() { s.abandon() }

func (s *Service) lockPath(name string) string {
	return filepath.Join(s.dataDir, "locks", name+".lock")
}

// Progress is who hears of an execution's progress as it runs in this
// process, and of the executions its tasks start; a nil field hears
// nothing. Both are called from the goroutines that run the executions
// and must not block.
type Progress struct {
	// Notify gets what a person follows besides the history: an
	// execution that waits for its concurrency slot.
	Notify func(format string, args ...any)
	// Events gets each batch of history events once it is journaled,
	// with the ID of the execution whose they are.
	Events func(executionID int64, events []Event)
}

// journal is the interpreter's Journal of an execution followed by p.
func (s *Service) journal(p Progress) workflow.Journal {
	j := storeJournal{s.st}
	if p.Events == nil {
		return j
	}
	return observedJournal{j, p.Events}
}

func (s *Service) setActive(id int64, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if on {
		s.active[id] = true
	} else {
		delete(s.active, id)
	}
}

func (s *Service) isActive(id int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.active[id]
}
