// Package engine drives a plan: it starts each action the moment its own
// needs have succeeded (never whole "levels"), bounds parallelism, gates
// each stage on the previous one, retries, times out and cancels attempts,
// and writes every state change to the journal before acting on it.
package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/velocity-ci/velocity/internal/artifact"
	"github.com/velocity-ci/velocity/internal/executor"
	"github.com/velocity-ci/velocity/internal/explain"
	"github.com/velocity-ci/velocity/internal/expr"
	"github.com/velocity-ci/velocity/internal/netport"
	"github.com/velocity-ci/velocity/internal/plan"
	"github.com/velocity-ci/velocity/internal/store"
)

// Journal is the part of the store the engine writes to. Each call must be
// durable when it returns; the engine does not act on a change that could
// not be recorded.
type Journal interface {
	StartAttempt(ctx context.Context, a store.Attempt) error
	FinishAttempt(ctx context.Context, a store.Attempt, final, allowFailure bool) error
	SetActions(ctx context.Context, runID int64, keys []store.Key, status store.Status, reason string, at time.Time) error
	Attempts(ctx context.Context, runID int64) ([]store.Attempt, error)

	SetOutputs(ctx context.Context, runID int64, k store.Key, files []store.Output) error
	Outputs(ctx context.Context, runID int64) ([]store.Output, error)
	SetImage(ctx context.Context, runID int64, img store.Image) error
	Images(ctx context.Context, runID int64) ([]store.Image, error)
	SaveResult(ctx context.Context, r store.Result) error
	Result(ctx context.Context, key string) (store.Result, error)
	DeleteResult(ctx context.Context, key string) error
	SaveDepCache(ctx context.Context, c store.DepCache) error
	DepCache(ctx context.Context, scope, key string) (store.DepCache, bool, error)

	// KeyParts and LastSuccess are read only to explain a cache miss.
	KeyParts(ctx context.Context, runID int64, k store.Key) (store.KeyParts, error)
	LastSuccess(ctx context.Context, project string, k store.Key, before int64) (store.KeyParts, error)
}

// Secrets gives actions the secrets they name. Methods may be called
// concurrently.
type Secrets interface {
	// Get returns a secret's value; an unknown name is an error that says
	// how to set it.
	Get(name string) ([]byte, error)
	// Fingerprint is a keyed hash of the value, for cache keys.
	Fingerprint(name string) (string, error)
}

// Observer hears about progress, for display. Its methods are called from
// the engine's goroutines, possibly concurrently for different nodes, and
// must return quickly.
type Observer interface {
	// AttemptStarted is called after the attempt was journaled.
	AttemptStarted(n *plan.Node, attempt int, at time.Time)
	// Output carries a chunk of an attempt's combined output. The slice
	// is reused after the call returns.
	Output(n *plan.Node, p []byte)
	// AttemptFinished is called after the attempt's end was journaled;
	// final is false when another attempt follows.
	AttemptFinished(n *plan.Node, a store.Attempt, final bool)
	// Skipped is called for a node that will not run at all.
	Skipped(n *plan.Node, status store.Status, reason string)
}

// Approver decides on stages that need manual approval. Approve blocks
// until a decision or until ctx ends (then it returns ctx's error); it is
// called from the engine's goroutine, one stage at a time.
type Approver interface {
	Approve(ctx context.Context, runID int64, stage string) (approved bool, err error)
}

// Deployer carries out deploy actions. Deploy blocks until the release
// serves or has failed (then the old release still serves); the error text
// is shown to the user, so it carries the instances' own log lines.
type Deployer interface {
	Deploy(ctx context.Context, d Deploy) (url string, err error)
}

// Deploy is one deploy action's request.
type Deploy struct {
	RunID       int64
	Service     string
	Environment string
	// Outputs are every output recorded in the run so far; the deployer
	// picks those of the service's from action.
	Outputs []store.Output
	// Images are the images the run's build actions recorded so far; a
	// service whose from names a build action deploys its image (ImageOf).
	Images []store.Image
	Log    io.Writer
}

// Engine runs plans. Its fields are read-only while a plan runs; one
// Engine may run several plans at once.
type Engine struct {
	Executor executor.Executor
	Journal  Journal
	// Observer may be nil.
	Observer Observer
	// Parallelism bounds the attempts running at once; 0 means the number
	// of CPUs.
	Parallelism int
	// KillGrace is how long a stopped attempt has between SIGTERM and
	// SIGKILL; 0 means the executor's default.
	KillGrace time.Duration
	// Logger may be nil.
	Logger *slog.Logger
	// Blobs stores outputs, logs and dependency caches; nil disables
	// outputs and every cache.
	Blobs *artifact.Blobs
	// Secrets may be nil when no action names a secret.
	Secrets Secrets
	// Version is part of every result-cache key.
	Version string
	// ExplainKey keys the hashes of host variables, secret fingerprints
	// and sidecar definitions recorded to explain cache misses, so that the
	// journal alone does not let anyone test guesses of a value. nil uses
	// a fixed key.
	ExplainKey []byte
	// Approver may be nil when no stage needs approval.
	Approver Approver
	// Deployer may be nil when no action deploys.
	Deployer Deployer
	// Workflows may be nil when no action starts a workflow.
	Workflows Workflows
	// Images may be nil when no action builds an image (build.go).
	Images Images
	// Ports hands out the sidecars' ports, shared with the runtime of
	// deployed instances so that the two never pick the same one; nil
	// gives each action's sidecars a picker of their own.
	Ports *netport.Picker
	// PortRange bounds the sidecars' ports (--port-range, port_range in
	// velocity.yml); zero means any free port.
	PortRange netport.Range
	// Hold, when set, is called for each stage that is about to start
	// (after its approval, before its first action), from the engine's
	// goroutine. It blocks until the stage may go on and returns what to
	// call once the stage, its finally actions included, has ended; an
	// error (ctx's when it ended) stops the run there, the stage unrun.
	// Runs use it to keep deploys of one environment apart.
	Hold func(ctx context.Context, st *plan.Stage) (release func(), err error)
}

// Run is one execution of a plan.
type Run struct {
	ID   int64
	Plan *plan.Plan
	// Dir is the workspace the actions run in.
	Dir string
	// Snapshot, when not nil, is the manifest of Dir as it is when Execute
	// starts (artifact.HashPresent(Dir, "**"), which source.Take returns
	// without reading unchanged files): the inputs of actions that declare
	// none. Nil makes Execute hash Dir itself.
	Snapshot []artifact.File
	// LogDir receives one file per attempt: STAGE/ACTION.N.log.
	LogDir string
	// Env is the environment every action starts from ("KEY=value"),
	// under the pipeline's and the action's own env.
	Env []string
	// Commit is the commit the workspace holds, "" when unknown; images
	// are tagged with it.
	Commit string
	// Vars describe the run (VELOCITY_RUN_ID, VELOCITY_COMMIT, ...); they
	// come last so that a definition cannot override them. The engine adds
	// VELOCITY_STAGE and VELOCITY_ACTION.
	Vars []string
	// Force, when closed, stops finally actions that run after a
	// cancellation (a second Ctrl-C). May be nil.
	Force <-chan struct{}
	// TempDir holds the run's scratch directories (sidecars); it must
	// exist when an action has sidecars, and may be "" when none has.
	TempDir string
	// NoCache executes every action (--no-cache).
	NoCache bool
	// Reuse names actions whose result is taken from an earlier run
	// instead of executing them (velocity rerun --failed).
	Reuse map[store.Key]int64
	// Warn receives warnings about how actions hand files to each other
	// (see sharing.go), one line each, from the attempts' goroutines; nil
	// leaves them in the readers' logs only.
	Warn func(msg string)
	// StrictSharing fails an action that may read a path an earlier
	// action created without declaring it, instead of warning.
	StrictSharing bool
	// Selection is the part of the plan a partial run executes; nil is
	// all of it. Nodes outside it are not part of the run: they are not
	// journaled, shown or gated on, and a stage with none of its nodes in
	// it is passed over, approval included.
	Selection *plan.Selection
	// Facts are what if: conditions see: the branch, the event and the
	// changed files. The engine fills in each action's env, matrix values
	// and earlier results.
	Facts expr.Facts
}

// Outcome is how a run ended.
type Outcome struct {
	Status store.Status
	// Reason says why a run did not succeed, naming the failed actions.
	Reason string
}

// errJournal marks a failure to write the journal: the run cannot go on
// without breaking the promise that every change is recorded first.
var errJournal = errors.New("journal")

// Execute runs r to the end. Cancelling ctx stops the run: running
// attempts get SIGTERM, nothing new starts but the current stage's finally
// actions, and the outcome is cancelled. The error is non-nil only when
// the journal could not be written.
func (e *Engine) Execute(ctx context.Context, r Run) (Outcome, error) {
	x := &execution{Engine: e, run: r, log: e.Logger, hasher: explain.NewHasher(e.ExplainKey), outputs: map[*plan.Node]string{}, keys: map[*plan.Node]*nodeKey{}, lists: map[string]string{},
		readLists: map[string]map[string]string{}, curLists: map[string]map[string]string{}, urls: map[*plan.Node]string{}, past: map[int64]*pastRun{}, images: map[*plan.Node]store.Image{},
		final: map[*plan.Node]store.Status{}}
	if x.log == nil {
		x.log = slog.New(slog.DiscardHandler)
	}
	x.sharing = newSharingWatch(r.Plan, r.Dir, r.Warn, r.StrictSharing)
	defer x.sharing.close()
	x.limit = e.Parallelism
	if x.limit <= 0 {
		x.limit = runtime.NumCPU()
	}
	if err := checkPathNames(r.Plan); err != nil {
		return Outcome{Status: store.Failed, Reason: err.Error()}, err
	}
	if r.Selection != nil {
		// A node left out of a partial run that declares no outputs goes
		// into later keys as it does when it ran: "none". Partial runs
		// then hit the results of full runs (velocity run deploy after
		// velocity run) and the other way round.
		r.Plan.Each(func(_ *plan.Stage, n *plan.Node) {
			if !r.Selection.Has(n) && len(n.Outputs) == 0 {
				x.outputs[n] = "none"
			}
		})
	}
	if x.Blobs != nil && !r.NoCache && needsSnapshot(r.Plan) {
		// Hashed before any action can change the workspace.
		var err error
		if x.snapshot, x.snapshotFiles, err = snapshotDigest(r.Dir, r.Snapshot); err != nil {
			return Outcome{Status: store.Failed, Reason: err.Error()}, err
		}
	}
	defer x.cleanupWorkspace()
	x.workers = newWorkers()
	defer x.workers.stop()
	return x.execute(ctx)
}

// execution is the state of one Execute call.
type execution struct {
	*Engine
	run    Run
	log    *slog.Logger
	limit  int
	hasher explain.Hasher
	// snapshot is the digest of the workspace before any action ran;
	// snapshotFiles are its files.
	snapshot      string
	snapshotFiles []artifact.File
	// sharing notices paths actions hand over without declaring them.
	sharing *sharingWatch
	// ws is the run's prepared executor workspace (workspace.go).
	ws ranWorkspace
	// workers run the attempts.
	workers *workers

	mu sync.Mutex
	// outputs holds the digest of each finished node's outputs.
	outputs map[*plan.Node]string
	// keys holds each node's result-cache key, computed once.
	keys map[*plan.Node]*nodeKey
	// lists maps an input tree digest to the blob of its file list, so
	// that the snapshot's list is stored once per run; readLists and
	// curLists hold the lists compared to explain misses, by blob and by
	// tree digest, so that the snapshot's are read once per run.
	lists     map[string]string
	readLists map[string]map[string]string
	curLists  map[string]map[string]string
	// urls holds the URL each deploy node deployed to.
	urls map[*plan.Node]string
	// images holds the image each build node built or reused.
	images map[*plan.Node]store.Image
	// past holds earlier runs whose results are reused, read once each.
	past map[int64]*pastRun
	// final holds the final status of each node decided so far, for the
	// status functions of if: conditions.
	final map[*plan.Node]store.Status
	// uncached holds the key records of actions that compute no key, by
	// the reason (uncachedParts).
	uncached map[string][]byte
	// cancelled is set once the run was cancelled, for cancelled() in the
	// finally actions that still run.
	cancelled bool
}

func (x *execution) execute(ctx context.Context) (Outcome, error) {
	var failed []string
	for i, st := range x.run.Plan.Stages {
		if !x.run.Selection.HasStage(st) {
			continue
		}
		if st.If != nil && !st.If.Expr.Eval(x.stageFacts()) {
			// A stage that does not apply is no failure: the next one runs.
			if err := x.skipStages(ctx, x.run.Plan.Stages[i:i+1], store.Skipped, fmt.Sprintf("if: %s was false", st.If.Text)); err != nil {
				return Outcome{Status: store.Failed, Reason: err.Error()}, err
			}
			continue
		}
		res, err := x.gate(ctx, st)
		if err == nil && res.status == store.Succeeded {
			res, err = x.held(ctx, st)
		}
		if err != nil {
			return Outcome{Status: store.Failed, Reason: err.Error()}, err
		}
		failed = append(failed, res.failed...)
		if res.status == store.Succeeded {
			continue
		}
		// Later stages never start: record them as skipped in one write.
		status, reason := store.Skipped, fmt.Sprintf("stage %q %s", st.Name, res.status)
		if res.status == store.Cancelled {
			status, reason = store.Cancelled, "run cancelled"
		}
		rest := x.run.Plan.Stages[i+1:]
		if res.gated {
			// The gated stage itself never started either.
			rest = x.run.Plan.Stages[i:]
			reason = res.reason
		}
		if err := x.skipStages(ctx, rest, status, reason); err != nil {
			return Outcome{Status: store.Failed, Reason: err.Error()}, err
		}
		out := Outcome{Status: res.status}
		switch {
		case res.status == store.Cancelled:
			out.Reason = "cancelled"
		case res.gated:
			out.Reason = res.reason
		default:
			out.Reason = "failed: " + strings.Join(failed, ", ")
		}
		return out, nil
	}
	return Outcome{Status: store.Succeeded}, nil
}

// skipStages records every node of stages as never run, in one write.
func (x *execution) skipStages(ctx context.Context, stages []*plan.Stage, status store.Status, reason string) error {
	var nodes []*plan.Node
	for _, st := range stages {
		for _, g := range []*plan.Graph{st.Actions, st.OnFailure, st.Finally} {
			nodes = append(nodes, g.Nodes...)
		}
	}
	return x.skip(ctx, nodes, status, reason)
}

// skip records a final status for nodes that get no (further) attempt,
// then tells the observer. Nodes outside the run's selection have no
// record to update and are left out.
func (x *execution) skip(ctx context.Context, nodes []*plan.Node, status store.Status, reason string) error {
	if x.run.Selection != nil {
		nodes = slices.DeleteFunc(slices.Clone(nodes), func(n *plan.Node) bool { return !x.run.Selection.Has(n) })
	}
	if len(nodes) == 0 {
		return nil
	}
	keys := make([]store.Key, len(nodes))
	for i, n := range nodes {
		keys[i] = store.Key{Stage: n.Stage, Name: n.Name}
	}
	if err := x.Journal.SetActions(context.WithoutCancel(ctx), x.run.ID, keys, status, reason, time.Now()); err != nil {
		return fmt.Errorf("%w: %w", errJournal, err)
	}
	x.mu.Lock()
	for _, n := range nodes {
		x.final[n] = status
	}
	x.mu.Unlock()
	if x.Observer != nil {
		for _, n := range nodes {
			x.Observer.Skipped(n, status, reason)
		}
	}
	return nil
}

type stageResult struct {
	status store.Status
	failed []string
	// gated is set when the stage did not start for want of approval.
	gated  bool
	reason string
}

// gate holds a stage that needs manual approval until it is decided.
func (x *execution) gate(ctx context.Context, st *plan.Stage) (stageResult, error) {
	if st.Approval != "manual" {
		return stageResult{status: store.Succeeded}, nil
	}
	if x.Approver == nil {
		return stageResult{status: store.Failed, gated: true,
			reason: fmt.Sprintf("stage %q needs manual approval, which nobody can give here", st.Name)}, nil
	}
	ok, err := x.Approver.Approve(ctx, x.run.ID, st.Name)
	switch {
	case ctx.Err() != nil:
		return stageResult{status: store.Cancelled, gated: true, reason: "run cancelled"}, nil
	case err != nil:
		return stageResult{status: store.Failed, gated: true, reason: fmt.Sprintf("approval of stage %q: %v", st.Name, err)}, nil
	case !ok:
		return stageResult{status: store.Failed, gated: true, reason: fmt.Sprintf("stage %q was not approved", st.Name)}, nil
	}
	return stageResult{status: store.Succeeded}, nil
}

// held runs a stage once Hold lets it, releasing the hold at its end.
func (x *execution) held(ctx context.Context, st *plan.Stage) (stageResult, error) {
	if x.Hold == nil {
		return x.stage(ctx, st)
	}
	release, err := x.Hold(ctx, st)
	switch {
	case ctx.Err() != nil:
		if err == nil {
			release()
		}
		return stageResult{status: store.Cancelled, gated: true, reason: "run cancelled"}, nil
	case err != nil:
		return stageResult{status: store.Failed, gated: true, reason: fmt.Sprintf("stage %q: %v", st.Name, err)}, nil
	}
	defer release()
	return x.stage(ctx, st)
}

// stage runs a stage's actions, then on_failure if they failed, then
// finally whatever happened.
func (x *execution) stage(ctx context.Context, st *plan.Stage) (stageResult, error) {
	res, err := x.graph(ctx, st.Actions)
	if err != nil {
		return res, err
	}
	// Clean-up must run even after Ctrl-C; only Force stops it.
	cleanupCtx := ctx
	if res.status == store.Cancelled {
		cleanupCtx = forceContext(ctx, x.run.Force)
		x.mu.Lock()
		x.cancelled = true
		x.mu.Unlock()
	}
	if res.status == store.Failed {
		r, err := x.graph(cleanupCtx, st.OnFailure)
		if err != nil {
			return res, err
		}
		res.failed = append(res.failed, r.failed...)
	} else if err := x.skip(ctx, st.OnFailure.Nodes, store.Skipped, fmt.Sprintf("stage %q did not fail", st.Name)); err != nil {
		return res, err
	}
	r, err := x.graph(cleanupCtx, st.Finally)
	if err != nil {
		return res, err
	}
	res.failed = append(res.failed, r.failed...)
	if res.status == store.Succeeded && r.status != store.Succeeded {
		res.status = r.status
	}
	if cleanupCtx != ctx {
		cleanupCtx.(*forceCtx).stop()
	}
	return res, nil
}

// forceCtx is a context that ignores its parent's cancellation (clean-up
// runs after Ctrl-C) but ends when force is closed.
type forceCtx struct {
	context.Context
	stop func()
}

func forceContext(parent context.Context, force <-chan struct{}) context.Context {
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	done := make(chan struct{})
	go func() {
		select {
		case <-force:
			cancel()
		case <-done:
		}
	}()
	return &forceCtx{Context: ctx, stop: func() { close(done); cancel() }}
}

// checkPathNames refuses a plan whose stage or action names would not
// stay one folder or file name below the run's log folder: with a stage
// named "..", logs left the run's folder and runs overwrote each other's.
// spec refuses such names; this holds for plans built any other way.
func checkPathNames(p *plan.Plan) error {
	for _, s := range p.Stages {
		if !isPathName(s.Name) {
			return fmt.Errorf("stage %q cannot name a log folder: %w", s.Name, ErrUnsafeName)
		}
	}
	var err error
	p.Each(func(s *plan.Stage, n *plan.Node) {
		if err == nil && !isPathName(n.Name) {
			err = fmt.Errorf("action %q of stage %q cannot name a log file: %w", n.Name, s.Name, ErrUnsafeName)
		}
	})
	return err
}

// ErrUnsafeName is the error of a plan refused by checkPathNames.
var ErrUnsafeName = errors.New(`a name must be one path element, not ".", ".." or holding a separator or control character`)

// isPathName reports whether name is a single element of a path inside
// the folder it is joined to.
func isPathName(name string) bool {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) {
		return false
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return filepath.IsLocal(name)
}

// logPath is where an attempt's output goes.
func (x *execution) logPath(n *plan.Node, attempt int) string {
	return filepath.Join(x.run.LogDir, n.Stage, fmt.Sprintf("%s.%d.log", n.Name, attempt))
}

// attemptLog is an attempt's log file, created by its first write, and
// its stage's directory with it. Creating a file or a directory costs
// more than the whole journal write of an attempt on some file systems,
// and many actions print nothing; readers take a missing log for an
// empty one.
// An attempt that does not succeed, or whose result goes to the cache,
// gets its file: the failure summary names it, the cache stores it.
type attemptLog struct {
	path string
	f    *os.File
	err  error // why the file could not be created
}

func (l *attemptLog) Write(p []byte) (int, error) {
	if err := l.create(); err != nil {
		return 0, err
	}
	return l.f.Write(p)
}

// create makes the file if it does not exist yet.
func (l *attemptLog) create() error {
	if l.f == nil && l.err == nil {
		l.f, l.err = os.OpenFile(l.path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if errors.Is(l.err, fs.ErrNotExist) {
			if l.err = os.MkdirAll(filepath.Dir(l.path), 0o700); l.err == nil {
				l.f, l.err = os.OpenFile(l.path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
			}
		}
	}
	return l.err
}

// reset empties what was written so far.
func (l *attemptLog) reset() {
	if l.f != nil {
		l.f.Truncate(0)
		l.f.Seek(0, io.SeekStart)
	}
}

func (l *attemptLog) Close() error {
	if l.f == nil {
		return nil
	}
	return l.f.Close()
}
