package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/velocity-ci/velocity/internal/artifact"
	"github.com/velocity-ci/velocity/internal/console"
	"github.com/velocity-ci/velocity/internal/engine"
	"github.com/velocity-ci/velocity/internal/executor/local"
	"github.com/velocity-ci/velocity/internal/lockfile"
	"github.com/velocity-ci/velocity/internal/netport"
	"github.com/velocity-ci/velocity/internal/plan"
	"github.com/velocity-ci/velocity/internal/source"
	"github.com/velocity-ci/velocity/internal/spec"
	"github.com/velocity-ci/velocity/internal/store"
)

type runOptions struct {
	jobs          int
	commit        string
	progress      string
	keepWorkspace bool
	killGrace     time.Duration
	noCache       bool
	cacheSize     string
	approve       bool
	proxyAddr     string
	noServe       bool
	replace       bool
	tailLines     int
	strict        bool
	// only and skip select part of the pipeline (plan.Select): the
	// positional names and --only, and --skip.
	only      []string
	skip      []string
	portRange string
}

// runRequest is what `run` and `rerun` ask the shared code to do.
type runRequest struct {
	runOptions
	// dir is the project directory (-C, or the directory of the run
	// being re-run).
	dir string
	// reuse names actions whose results come from an earlier run.
	reuse map[store.Key]int64
	// note is printed when the run starts (why it is what it is).
	note string
}

func (a *app) runCmd() *cobra.Command {
	var o runOptions
	cmd := &cobra.Command{
		Use:   "run [ACTION|STAGE…]",
		Short: "Run the project's assembly line locally, or part of it",
		Long: `Run every stage of velocity.yml on a copy of the project: the tree at HEAD plus
uncommitted, non-ignored changes (or exactly --commit REV). The working copy
is never modified. Actions whose inputs did not change since a successful
run are not executed again: their result comes from the cache.

With names (or --only), run part of the pipeline. A name is a stage (all
its actions), an action (when one stage has it) or STAGE/ACTION; globs
select several: 'build/*', '*/deploy'. A selected action runs with what it
needs, "pulled in": its needs, and every action of an earlier stage that
declares outputs. Pulled-in actions come from the cache when nothing
changed. --skip leaves actions out; skipping an action whose outputs a
selected one reads is an error. The project directory is -C DIR, never a
name.

Exit status: 0 succeeded, 1 the pipeline failed, 2 bad definition or usage,
130 interrupted (Ctrl-C).`,
		Example: `  velocity run                      # the whole pipeline
  velocity run test                 # one action (and what it needs)
  velocity run build                # one stage
  velocity run staging/acceptance   # pulls in build/package and staging/deploy
  velocity run --only 'build/*' --skip lint`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := filepath.Abs(a.dir)
			if err != nil {
				return usageError("directory %q: %v", a.dir, err)
			}
			o.only = append(slices.Clone(args), o.only...)
			return a.run(cmd.Context(), runRequest{runOptions: o, dir: dir})
		},
	}
	a.runFlags(cmd, &o)
	cmd.Flags().StringVar(&o.commit, "commit", "", "run exactly commit `REV` instead of the working tree")
	cmd.Flags().StringSliceVar(&o.only, "only", nil, "run only the actions `PATTERN` names, and what they need (as the positional names; repeat or separate with commas)")
	cmd.Flags().StringSliceVar(&o.skip, "skip", nil, "leave out the actions `PATTERN` names (repeat or separate with commas)")
	return cmd
}

func (a *app) runFlags(cmd *cobra.Command, o *runOptions) {
	f := cmd.Flags()
	f.IntVarP(&o.jobs, "jobs", "j", runtime.NumCPU(), "run at most `N` actions at once")
	f.StringVar(&o.progress, "progress", "auto", "output style: auto, live (redrawn view) or plain (prefixed lines)")
	f.BoolVar(&o.keepWorkspace, "keep-workspace", false, "print the path of the run's copy of the project (kept until the project's next run)")
	f.DurationVar(&o.killGrace, "kill-grace", 10*time.Second, "time a stopped action gets between SIGTERM and SIGKILL")
	f.BoolVar(&o.noCache, "no-cache", false, "execute every action; take no result from the cache")
	f.StringVar(&o.proxyAddr, "proxy-addr", "", "where the proxy in front of deployed services listens (default $VELOCITY_PROXY_ADDR, else 127.0.0.1:8080; unused when velocity serve runs)")
	f.BoolVar(&o.noServe, "no-serve", false, "without velocity serve: stop deployed services when the pipeline ends instead of serving until Ctrl-C")
	f.BoolVar(&o.approve, "approve", false, "approve every stage that needs manual approval (for demos and scripts)")
	f.BoolVar(&o.replace, "replace", false, "let deploys take over services that are live from another project on the server")
	f.IntVar(&o.tailLines, "tail-lines", console.DefaultTailLines, "show the last `N` lines of each failed action's log at the end (0: only where the log is)")
	f.BoolVar(&o.strict, "strict", false, "fail an action that may read files an earlier action created without declaring them in outputs or cache (default: warn)")
	f.StringVar(&o.portRange, "port-range", "", "take the ports of sidecars and deployed instances from `LOW-HIGH` only, e.g. 41000-41099 (default port_range in velocity.yml, else any free port)")
	f.StringVar(&o.cacheSize, "cache-size", "", "bound the blob store (outputs, logs, caches) to `SIZE`, e.g. 500MB, 10GB (default $VELOCITY_CACHE_SIZE, else 10GB); least recently used blobs go first")
}

// loadPipeline reads and validates the velocity.yml at path, naming it
// shown in messages; any problem is a usage error with every message
// already printed.
func (a *app) loadPipeline(path, shown, dir string) (*spec.Pipeline, error) {
	p, err := spec.Load(path)
	if err != nil {
		var errs spec.Errors
		if errors.As(err, &errs) {
			lines := make([]string, len(errs))
			for i, e := range errs {
				e.File = shown
				lines[i] = e.Error()
			}
			printErrors(a.stderr, lines)
			fmt.Fprintf(a.stderr, "velocity: %s has %d %s\n", shown, len(errs), plural(len(errs), "error"))
			return nil, &exitError{code: ExitUsage}
		}
		if errors.Is(err, fs.ErrNotExist) {
			return nil, usageError("%s: no such file; run 'velocity init' to create one", shown)
		}
		return nil, &exitError{code: ExitUsage, err: err}
	}
	if p.Name == "" {
		p.Name = filepath.Base(dir)
	}
	return p, nil
}

// projectPipeline loads the velocity.yml of the -C directory.
func (a *app) projectPipeline() (*spec.Pipeline, string, error) {
	dir, err := filepath.Abs(a.dir)
	if err != nil {
		return nil, "", usageError("directory %q: %v", a.dir, err)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil, "", usageError("%s is not a directory", a.dir)
	}
	path := filepath.Join(dir, spec.FileName)
	p, err := a.loadPipeline(path, relPath(path), dir)
	return p, dir, err
}

// relPath shortens path for messages when it lies below the working directory.
func relPath(path string) string {
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	if rel, err := filepath.Rel(wd, path); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return path
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

func randomToken() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (a *app) run(ctx context.Context, o runRequest) error {
	if o.jobs < 1 {
		return usageError("--jobs must be at least 1, got %d", o.jobs)
	}
	if o.tailLines < 0 {
		return usageError("--tail-lines must be 0 or more, got %d", o.tailLines)
	}
	live, err := a.liveOutput(o.progress)
	if err != nil {
		return err
	}
	cacheSize, err := a.cacheLimit(o.cacheSize)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(o.dir); err != nil || !fi.IsDir() {
		return usageError("%s is not a directory", o.dir)
	}
	shown := relPath(filepath.Join(o.dir, spec.FileName))
	var p *spec.Pipeline
	if o.commit == "" {
		// The working tree's definition is the run's: checked before
		// anything is copied.
		if p, err = a.loadPipeline(filepath.Join(o.dir, spec.FileName), shown, o.dir); err != nil {
			return err
		}
		// A mistyped name fails before the project is copied.
		if _, _, err := a.selectActions(p, o); err != nil {
			return err
		}
	}
	began := time.Now()
	h, err := a.openHome(ctx)
	if err != nil {
		return err
	}
	defer func() {
		t := time.Now()
		h.close()
		a.log.Debug("journal closed", "took", time.Since(t))
	}()
	a.log.Debug("journal opened", "took", time.Since(began))

	// The lock exists before the run's record does, so no other command can
	// mistake this run for a dead one.
	token := randomToken()
	lock, err := lockfile.Acquire(h.lockPath(token))
	if err != nil {
		return err
	}
	defer lock.Release()

	// The project's own stable workspace (the same path every run, so
	// tools' caches keyed by path hit), brought back to the snapshot. It
	// stays after the run: paths in the output lead to files until the
	// project's next run.
	slot, err := source.Workspaces{Dir: h.workspacesDir()}.Claim(o.dir)
	if err != nil {
		return err
	}
	defer slot.Release()
	ws := slot.Dir
	snap, err := source.Take(ctx, o.dir, ws, source.Options{Rev: o.commit, Index: slot.Index()})
	if err != nil {
		if errors.Is(err, source.ErrUnknownRev) {
			return usageError("%v", err)
		}
		return fmt.Errorf("copy the project: %w", err)
	}
	a.log.Debug("workspace synchronised", "dir", ws, "files", snap.Files, "written", snap.Written, "removed", snap.Removed, "at", time.Since(began))
	tmp := h.scratch(token)
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	// With --commit, the definition is that commit's.
	if o.commit != "" {
		shown = fmt.Sprintf("%s (at %s)", shown, o.commit)
		if p, err = a.loadPipeline(filepath.Join(ws, spec.FileName), shown, o.dir); err != nil {
			return err
		}
	}

	ports, err := portRange(o.portRange, p, shown)
	if err != nil {
		return err
	}

	blobs, err := artifact.OpenBlobs(h.blobDir())
	if err != nil {
		return err
	}
	explainKey, err := h.explainKey()
	if err != nil {
		return err
	}
	secrets, err := a.openSecrets(h)
	if err != nil {
		return err
	}

	pl, sel, err := a.selectActions(p, o)
	if err != nil {
		return err
	}
	var actions []store.Action
	pl.Each(func(s *plan.Stage, n *plan.Node) {
		if !sel.Has(n) {
			return
		}
		actions = append(actions, store.Action{
			StageIndex: s.Index, Stage: s.Name, Name: n.Name, Kind: store.Kind(n.Kind), Needs: n.NeedNames,
		})
	})
	run := store.Run{
		Project: p.Name, Dir: o.dir, Commit: snap.Commit, Branch: snap.Branch, Dirty: snap.Dirty,
		Status: store.Running, Lock: h.lockPath(token), Workspace: ws, Created: time.Now(),
		Selection: store.Selection{Only: o.only, Skip: o.skip},
	}
	run.ID, err = h.store.CreateRun(ctx, run, actions)
	if err != nil {
		return err
	}

	ex, err := local.New()
	if err != nil {
		return err
	}
	defer ex.Close()

	con := console.New(a.stdout, pl, console.Options{Live: live, Width: a.termWidth, Height: a.termHeight, Selection: sel})
	// What the run's parts log are console lines, not text-handler lines
	// on stderr cutting through the view.
	log := slog.New(con.LogHandler(a.log.Handler()))

	// Deploys go through the data directory's server when one runs (the
	// services outlive the run there), else this process hosts them.
	var services *host
	var remote *remoteDeployer
	// One picker for sidecars and instances: the two never get the same
	// port, even while neither listens yet.
	picker := &netport.Picker{}
	if selectsDeploys(pl, sel) {
		if c, _ := a.dialServer(ctx, h); c != nil {
			defer c.Close()
			remote = &remoteDeployer{client: c, pipeline: p, commit: snap.Commit, replace: o.replace, ports: ports}
		} else {
			services, err = a.startHost(p, h, blobs, secrets, a.proxyAddr(o.proxyAddr), picker, ports, log)
			if err != nil {
				h.store.FinishRun(context.WithoutCancel(ctx), run.ID, store.Failed, err.Error(), time.Now())
				return err
			}
			defer services.close()
		}
	}

	con.Printf("velocity: run %d of %s%s\n", run.ID, p.Name, describeSnapshot(snap))
	if o.note != "" {
		con.Printf("velocity: %s\n", o.note)
	}
	if sel != nil {
		con.Printf("velocity: partial run: %s (%d of %d actions)\n", sel, sel.Len(), pl.Len())
		for _, line := range pulledIn(sel) {
			con.Printf("velocity: pulled in: %s\n", line)
		}
	}
	if o.keepWorkspace {
		con.Printf("velocity: workspace %s\n", ws)
	}

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	force := make(chan struct{})
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	go func() {
		n := 0
		for range sigs {
			n++
			if n == 1 {
				con.Printf("velocity: stopping (press Ctrl-C again to skip clean-up)...\n")
				stop()
			} else if n == 2 {
				close(force)
			}
		}
	}()

	eng := &engine.Engine{
		Executor:    ex,
		Journal:     h.store,
		Observer:    con,
		Parallelism: o.jobs,
		KillGrace:   o.killGrace,
		Logger:      log,
		Blobs:       blobs,
		Secrets:     secrets,
		Version:     Version,
		ExplainKey:  explainKey,
		Approver:    &approver{store: h.store, auto: o.approve, say: con.Printf, prompt: a.terminalInput()},
		Ports:       picker,
		PortRange:   ports,
	}
	switch {
	case services != nil:
		eng.Deployer = services
	case remote != nil:
		eng.Deployer = remote
	}
	if selectsWorkflows(pl, sel) {
		// The executions of workflow actions go to the data directory's
		// workflow journal, run by the same runtime as 'velocity
		// workflow run'.
		wrt, err := a.newWorkflowRuntime(ctx, h)
		if err != nil {
			return err
		}
		defer wrt.close()
		eng.Workflows = newActionWorkflows(wrt)
	}
	facts, factsNote := conditionFacts(ctx, h.store, p, o.dir, o.commit, snap)
	if factsNote != "" {
		con.Printf("velocity: %s\n", factsNote)
	}
	con.Start()
	outcome, execErr := eng.Execute(runCtx, engine.Run{
		ID:     run.ID,
		Plan:   pl,
		Dir:    ws,
		LogDir: h.logDir(run.ID),
		Env:    append(engine.HostEnv(a.environ(), p.EnvPassthrough), "CI=true", "VELOCITY=true"),
		Vars: []string{
			fmt.Sprint("VELOCITY_RUN_ID=", run.ID),
			"VELOCITY_PROJECT=" + p.Name,
			"VELOCITY_COMMIT=" + snap.Commit,
			"VELOCITY_BRANCH=" + snap.Branch,
			"VELOCITY_WORKSPACE=" + ws,
		},
		Force:   force,
		TempDir: tmp,
		NoCache: o.noCache,
		Reuse:   o.reuse,
		Warn:    func(msg string) { con.Printf("velocity: warning: %s\n", msg) },
		// --strict turns the warnings above into failures.
		StrictSharing: o.strict,
		Selection:     sel,
		Facts:         facts,
		Snapshot:      snap.Manifest,
	})
	con.Stop()
	finished := time.Now()
	log.Debug("pipeline finished", "at", time.Since(began))
	if err := h.store.FinishRun(context.WithoutCancel(ctx), run.ID, outcome.Status, outcome.Reason, finished); err != nil && execErr == nil {
		execErr = err
	}
	run.Status, run.Reason, run.Finished = outcome.Status, outcome.Reason, finished
	if final, err := h.store.Actions(context.WithoutCancel(ctx), run.ID); err == nil {
		fmt.Fprintln(a.stdout)
		approvals, _ := h.store.Approvals(context.WithoutCancel(ctx), run.ID)
		console.Report(a.stdout, run, final, console.ReportOptions{Color: live, Approvals: approvals})
		if atts, err := h.store.Attempts(context.WithoutCancel(ctx), run.ID); err == nil {
			console.Failures(a.stdout, run.ID, final, atts, console.FailureOptions{Lines: o.tailLines, Color: live, Velocity: a.velocityCommand()})
		}
	}
	a.evict(context.WithoutCancel(ctx), h.store, blobs, cacheSize)
	if services != nil && outcome.Status == store.Succeeded && execErr == nil && !o.noServe {
		services.serve(runCtx, func(format string, args ...any) { fmt.Fprintf(a.stdout, format, args...) })
	}
	if remote != nil && len(remote.urls) > 0 {
		fmt.Fprintf(a.stdout, "velocity: deployed through velocity serve (%s); the services keep running there:\n", h.socketPath())
		for _, u := range remote.urls {
			fmt.Fprintf(a.stdout, "  %s\n", u)
		}
	}
	if execErr != nil {
		return fmt.Errorf("run %d stopped: %w", run.ID, execErr)
	}
	switch outcome.Status {
	case store.Succeeded:
		return nil
	case store.Cancelled:
		return &exitError{code: ExitInterrupted}
	}
	fmt.Fprintf(a.stderr, "velocity: run %d failed; see 'velocity logs %d' for the full output\n", run.ID, run.ID)
	fmt.Fprintf(a.stderr, "velocity: its files stay in %s until the project's next run\n", ws)
	return &exitError{code: ExitFailed}
}

// selectActions compiles p and picks the part of it the run executes
// (nil: all of it); a name that selects nothing is a usage error.
func (a *app) selectActions(p *spec.Pipeline, o runRequest) (*plan.Plan, *plan.Selection, error) {
	pl := plan.Compile(p)
	sel, err := plan.Select(pl, o.only, o.skip)
	if err != nil {
		hint := ""
		for _, name := range o.only {
			// "velocity run ../other" meant the project there, not an
			// action: say how to ask for that.
			if fi, statErr := os.Stat(name); statErr == nil && fi.IsDir() && errors.Is(err, plan.ErrNoMatch) {
				hint = fmt.Sprintf("\nvelocity: to run the project in %s, use: velocity run -C %s", name, shellQuote(name))
				break
			}
		}
		return nil, nil, usageError("%v%s", err, hint)
	}
	return pl, sel, nil
}

// selectsDeploys reports whether the run deploys anything: 'velocity run
// test' has no use for the proxy, and must not fail because its port is
// taken.
func selectsDeploys(pl *plan.Plan, sel *plan.Selection) bool {
	found := false
	pl.Each(func(_ *plan.Stage, n *plan.Node) {
		found = found || n.Deploy != "" && sel.Has(n)
	})
	return found
}

// selectsWorkflows reports whether the run starts a workflow, which
// needs the workflow runtime.
func selectsWorkflows(pl *plan.Plan, sel *plan.Selection) bool {
	found := false
	pl.Each(func(_ *plan.Stage, n *plan.Node) {
		found = found || n.Workflow != nil && sel.Has(n)
	})
	return found
}

// pulledIn says which actions a partial run adds and why, one line per
// selected action that needs some: "build/test, build/package (needed by
// staging/acceptance)".
func pulledIn(sel *plan.Selection) []string {
	var lines []string
	var by []*plan.Node
	names := map[*plan.Node][]string{}
	for _, p := range sel.Pulled {
		if names[p.By] == nil {
			by = append(by, p.By)
		}
		names[p.By] = append(names[p.By], p.Node.ID())
	}
	for _, b := range by {
		lines = append(lines, fmt.Sprintf("%s (needed by %s)", strings.Join(names[b], ", "), b.ID()))
	}
	return lines
}

// portRange is the range of --port-range, else velocity.yml's
// port_range (shown names the file), else zero.
func portRange(flag string, p *spec.Pipeline, shown string) (netport.Range, error) {
	if flag != "" {
		r, err := netport.Parse(flag, "--port-range")
		if err != nil {
			return netport.Range{}, usageError("--port-range: %v", err)
		}
		return r, nil
	}
	if r := p.PortRange; !r.IsZero() {
		return netport.Range{Low: r.Low, High: r.High,
			Source: fmt.Sprintf("port_range at %s:%d:%d", shown, r.Pos.Line, r.Pos.Col)}, nil
	}
	return netport.Range{}, nil
}

// velocityCommand is how the user reaches this data directory again, for
// commands the output suggests.
func (a *app) velocityCommand() string {
	if a.dataDir == "" {
		return "velocity"
	}
	return "velocity --data-dir " + shellQuote(a.dataDir)
}

// shellQuote quotes s for a POSIX shell when it needs quoting.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+=:,@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func describeSnapshot(s source.Snapshot) string {
	var b strings.Builder
	if s.Commit != "" {
		fmt.Fprintf(&b, " at %.12s", s.Commit)
	}
	if s.Branch != "" {
		fmt.Fprintf(&b, " (%s)", s.Branch)
	}
	if s.Note != "" {
		fmt.Fprintf(&b, "; %s", s.Note)
	}
	return b.String()
}

// liveOutput decides between the redrawn view and plain lines.
func (a *app) liveOutput(mode string) (bool, error) {
	switch mode {
	case "live":
		return true, nil
	case "plain":
		return false, nil
	case "auto":
		if a.getenv("CI") == "true" || a.getenv("TERM") == "dumb" {
			return false, nil
		}
		f, ok := a.stdout.(*os.File)
		return ok && term.IsTerminal(int(f.Fd())), nil
	}
	return false, usageError("--progress must be auto, live or plain, not %q", mode)
}

func (a *app) termSize() (int, int) {
	if f, ok := a.stdout.(*os.File); ok {
		if w, h, err := term.GetSize(int(f.Fd())); err == nil {
			return w, h
		}
	}
	return 80, 24
}

func (a *app) termWidth() int  { w, _ := a.termSize(); return w }
func (a *app) termHeight() int { _, h := a.termSize(); return h }
