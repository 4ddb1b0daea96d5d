package runs

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/velocity-ci/velocity/internal/engine"
	"github.com/velocity-ci/velocity/internal/expr"
	"github.com/velocity-ci/velocity/internal/lockfile"
	"github.com/velocity-ci/velocity/internal/netport"
	"github.com/velocity-ci/velocity/internal/plan"
	"github.com/velocity-ci/velocity/internal/source"
	"github.com/velocity-ci/velocity/internal/spec"
	"github.com/velocity-ci/velocity/internal/store"
)

// StartRequest says what to run and how. Its JSON form is the body of the
// API's request to start a run.
type StartRequest struct {
	// Dir is the project directory (absolute).
	Dir string `json:"dir"`
	// Commit runs exactly that revision instead of the working tree.
	Commit string `json:"commit,omitempty"`
	// Only and Skip select part of the pipeline (see plan.Select).
	Only []string `json:"only,omitempty"`
	Skip []string `json:"skip,omitempty"`
	// Jobs bounds the actions running at once; at least 1.
	Jobs int `json:"jobs"`
	// NoCache executes every action.
	NoCache bool `json:"no_cache,omitempty"`
	// Approve approves every stage that waits for approval.
	Approve bool `json:"approve,omitempty"`
	// KillGrace is what a stopped action gets between SIGTERM and SIGKILL.
	KillGrace time.Duration `json:"kill_grace,omitempty"`
	// Strict fails actions reading undeclared files of earlier actions.
	Strict bool `json:"strict,omitempty"`
	// PortRange bounds the ports of sidecars and deployed instances
	// ("LOW-HIGH"); "" takes port_range of velocity.yml.
	PortRange string `json:"port_range,omitempty"`
	// ProxyAddr is where a hosted deploy's proxy listens; "" the default.
	ProxyAddr string `json:"proxy_addr,omitempty"`
	// Replace lets deploys take over services of another project.
	Replace bool `json:"replace,omitempty"`
	// NoServe stops hosted services when the run ends instead of serving
	// them until the run is cancelled.
	NoServe bool `json:"no_serve,omitempty"`
	// CacheSize bounds the blob store after the run; 0 does not evict.
	CacheSize int64 `json:"cache_size,omitempty"`
	// KeepWorkspace names the run's workspace in a message.
	KeepWorkspace bool `json:"keep_workspace,omitempty"`
	// Note is a message shown when the run starts (why it is what it is).
	Note string `json:"note,omitempty"`
	// Rerun, when set, runs that earlier run again: same directory,
	// commit and selection (Dir, Commit, Only and Skip are ignored).
	// With Failed, what succeeded then keeps its result; without, every
	// action executes again.
	Rerun  int64 `json:"rerun,omitempty"`
	Failed bool  `json:"failed,omitempty"`
	// RerunDir, with Rerun, runs the earlier run from this directory
	// instead of its own: this node's path to the same repository when
	// the run is taken over from another node.
	RerunDir string `json:"-"`
	// Trigger says who or what started the run, for its record ("push
	// by alice", "poll"); "" for the command line.
	Trigger string `json:"trigger,omitempty"`
	// Project, when set, names the run's project in place of the name in
	// velocity.yml: a team server's runs carry the server's project name,
	// by which they are listed.
	Project string `json:"project,omitempty"`
	// Branch, when set, is recorded as the run's branch: a commit of a
	// server's mirror is named by its id, and the branch it came in on
	// is known only to the trigger.
	Branch string `json:"branch,omitempty"`
	// Definition is the working tree's velocity.yml as Validate read it
	// moments before, so that a run reads and checks it once; nil: Start
	// reads it. Used only without Commit and Rerun.
	Definition *spec.Pipeline `json:"-"`
}

// Start begins a run and returns its number once it is journaled and its
// first events are in its stream; the run goes on in the background until
// it ends or is cancelled. ctx bounds only the start. Errors: ErrInvalid
// for a request the caller has to change.
func (s *Service) Start(ctx context.Context, req StartRequest) (int64, error) {
	if err := checkJobs(req); err != nil {
		return 0, err
	}
	x := &runner{svc: s, req: req, began: time.Now()}
	if req.Rerun != 0 {
		if err := x.rerun(ctx); err != nil {
			return 0, err
		}
	}
	if err := x.prepare(ctx); err != nil {
		x.release()
		return 0, err
	}
	if err := x.begin(ctx); err != nil {
		x.svc.cfg.Store.FinishRun(context.WithoutCancel(ctx), x.run.ID, store.Failed, err.Error(), time.Now())
		x.feed.close()
		x.release()
		return 0, err
	}
	r := &liveRun{feed: x.feed, force: make(chan struct{}), done: make(chan struct{})}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.cancel = cancel
	s.register(x.run.ID, r)
	go x.execute(runCtx, r)
	return x.run.ID, nil
}

// runner is one run from its request to its end.
type runner struct {
	svc   *Service
	req   StartRequest
	began time.Time
	// reuse names actions whose results come from an earlier run.
	reuse map[store.Key]int64
	// cleanup is undone in reverse order when the run ends.
	cleanup []func()

	shown    string
	pipeline *spec.Pipeline
	plan     *plan.Plan
	sel      *plan.Selection
	snap     source.Snapshot
	tmp      string
	ports    netport.Range
	picker   *netport.Picker
	run      store.Run
	// kept is the run's lease while it runs; nil without a lease store.
	kept *store.KeptLease

	feed      *feed
	log       *slog.Logger
	executor  Executor
	deployer  RunDeployer
	workflows engine.Workflows
	images    engine.Images
	facts     expr.Facts
}

func (x *runner) onEnd(f func()) { x.cleanup = append(x.cleanup, f) }

func (x *runner) release() {
	for i := len(x.cleanup) - 1; i >= 0; i-- {
		x.cleanup[i]()
	}
	x.cleanup = nil
}

// rerun turns a request to re-run an earlier run into what that run was.
func (x *runner) rerun(ctx context.Context) error {
	old, err := x.svc.cfg.Store.Run(ctx, x.req.Rerun)
	if err != nil {
		return &InvalidError{Err: fmt.Errorf("run %d not found in %s (see 'velocity runs')", x.req.Rerun, x.svc.cfg.DataDir)}
	}
	if !old.Status.Final() {
		return invalidf("run %d is still %s", old.ID, old.Status)
	}
	x.req.Dir, x.req.Commit = cmp.Or(x.req.RerunDir, old.Dir), old.Commit
	if old.Trigger != "" && x.req.Project == "" {
		// A server's run: its re-run stays a run of the server's project,
		// on the branch its commit came in on.
		x.req.Project = old.Project
		if x.req.Branch == "" {
			x.req.Branch = old.Branch
		}
	}
	// A partial run is re-run as the same part of the pipeline.
	x.req.Only, x.req.Skip = old.Selection.Only, old.Selection.Skip
	switch {
	case old.Commit == "":
		x.addNote(fmt.Sprintf("run %d was not of a git commit: re-running the directory as it is now", old.ID))
	case old.Dirty:
		// The uncommitted changes of then are gone; the commit is what can be reproduced.
		x.addNote(fmt.Sprintf("run %d included uncommitted changes, which cannot be recovered: re-running its commit %.12s", old.ID, old.Commit))
	}
	if !x.req.Failed {
		x.req.NoCache = true
		return nil
	}
	acts, err := x.svc.cfg.Store.Actions(ctx, old.ID)
	if err != nil {
		return err
	}
	x.reuse = map[store.Key]int64{}
	for _, act := range acts {
		if act.Status.OK() {
			x.reuse[act.Key()] = old.ID
		}
	}
	if len(x.reuse) == len(acts) {
		return invalidf("run %d has nothing that failed to re-run", old.ID)
	}
	return nil
}

// addNote adds a message to the one shown when the run starts.
func (x *runner) addNote(s string) {
	if x.req.Note != "" {
		s = x.req.Note + "; " + s
	}
	x.req.Note = s
}

// prepare copies the project into its workspace, reads its definition
// and journals the run.
func (x *runner) prepare(ctx context.Context) error {
	req := x.req
	if fi, err := os.Stat(req.Dir); err != nil || !fi.IsDir() {
		return invalidf("%s is not a directory", req.Dir)
	}
	x.shown = RelPath(filepath.Join(req.Dir, spec.FileName))
	switch {
	case req.Commit == "" && req.Definition != nil && req.Rerun == 0:
		x.pipeline = x.named(req.Definition)
		var err error
		if x.plan, x.sel, err = selectActions(x.pipeline, req.Only, req.Skip); err != nil {
			return err
		}
	case req.Commit == "":
		// The working tree's definition is the run's: checked, and a
		// mistyped name fails, before anything is copied.
		if err := x.define(filepath.Join(req.Dir, spec.FileName)); err != nil {
			return err
		}
	}
	// The lock exists before the run's record does, so no other command
	// can mistake this run for a dead one.
	token := randomToken()
	lockPath := x.svc.lockPath(token)
	lock, err := lockfile.Acquire(lockPath)
	if err != nil {
		return err
	}
	x.onEnd(func() { lock.Release() })
	if x.svc.cfg.Owner != "" {
		note, err := x.note()
		if err != nil {
			return err
		}
		if err := lock.Note(string(note)); err != nil {
			return err
		}
	}
	if err := x.snapshot(ctx, token); err != nil {
		return err
	}
	// With a commit, the definition is that commit's.
	if req.Commit != "" {
		x.shown = fmt.Sprintf("%s (at %s)", x.shown, req.Commit)
		if err := x.define(filepath.Join(x.snap.Dir, spec.FileName)); err != nil {
			return err
		}
	}
	if err := x.scratch(token); err != nil {
		return err
	}
	if x.ports, err = portRange(req.PortRange, x.pipeline, x.shown); err != nil {
		return err
	}
	return x.journal(ctx, lockPath)
}

// define reads the definition at path and selects the part to run.
func (x *runner) define(path string) (err error) {
	if x.pipeline, err = LoadPipeline(path, x.shown, x.req.Dir); err != nil {
		return err
	}
	x.pipeline = x.named(x.pipeline)
	x.plan, x.sel, err = selectActions(x.pipeline, x.req.Only, x.req.Skip)
	return err
}

// named returns p under the project name the request gives, if any; p
// itself is left alone (a caller's definition may be shared).
func (x *runner) named(p *spec.Pipeline) *spec.Pipeline {
	if x.req.Project == "" || x.req.Project == p.Name {
		return p
	}
	renamed := *p
	renamed.Name = x.req.Project
	return &renamed
}

// snapshot brings the project's own stable workspace (the same path every
// run, so tools' caches keyed by path hit) back to the project's state.
// It stays after the run: paths in the output lead to files until the
// project's next run.
func (x *runner) snapshot(ctx context.Context, token string) error {
	slot, err := source.Workspaces{Dir: x.svc.workspacesDir()}.Claim(x.req.Dir)
	if err != nil {
		return err
	}
	x.onEnd(func() { slot.Release() })
	x.snap, err = source.Take(ctx, x.req.Dir, slot.Dir, source.Options{Rev: x.req.Commit, Index: slot.Index()})
	if err != nil {
		if errors.Is(err, source.ErrUnknownRev) {
			return invalidf("%v", err)
		}
		return fmt.Errorf("copy the project: %w", err)
	}
	if x.req.Branch != "" {
		x.snap.Branch = x.req.Branch
	}
	x.svc.cfg.Logger.Debug("workspace synchronised", "dir", slot.Dir, "files", x.snap.Files, "written", x.snap.Written, "removed", x.snap.Removed, "at", time.Since(x.began))
	return nil
}

// scratch makes the run's scratch directory, where its sidecars get
// theirs, when a selected action has sidecars. Without, the run has none:
// making and removing a directory nobody uses cost every run two inode
// changes (0.3-0.5 ms on a busy ext4).
func (x *runner) scratch(token string) error {
	if !selects(x.plan, x.sel, func(n *plan.Node) bool { return len(n.Sidecars) > 0 }) {
		return nil
	}
	x.tmp = x.svc.scratch(token)
	if err := os.MkdirAll(x.tmp, 0o700); err != nil {
		return err
	}
	x.onEnd(func() { os.RemoveAll(x.tmp) })
	return nil
}

// journal records the run with the actions it takes.
func (x *runner) journal(ctx context.Context, lockPath string) error {
	var actions []store.Action
	x.plan.Each(func(s *plan.Stage, n *plan.Node) {
		if x.sel.Has(n) {
			actions = append(actions, store.Action{
				StageIndex: s.Index, Stage: s.Name, Name: n.Name, Kind: store.Kind(n.Kind), Needs: n.NeedNames,
			})
		}
	})
	x.run = store.Run{
		Project: x.pipeline.Name, Dir: x.req.Dir, Commit: x.snap.Commit, CommitTime: x.snap.CommitTime,
		Branch: x.snap.Branch, Dirty: x.snap.Dirty, Status: store.Running, Lock: lockPath, Workspace: x.snap.Dir, Created: time.Now(),
		Selection: store.Selection{Only: x.req.Only, Skip: x.req.Skip}, Trigger: x.req.Trigger,
	}
	var err error
	if x.run.ID, err = x.svc.cfg.Store.CreateRun(ctx, x.run, actions); err != nil {
		return err
	}
	// The lease follows the record at once: another node sharing the
	// store, which cannot see this machine's lock file, knows the run is
	// owned by its lease alone.
	if err := x.lease(ctx); err != nil {
		x.svc.cfg.Store.FinishRun(context.WithoutCancel(ctx), x.run.ID, store.Failed, err.Error(), time.Now())
		return err
	}
	return nil
}

func randomToken() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}
