package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
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

	"github.com/velocity-ci/velocity/internal/console"
	"github.com/velocity-ci/velocity/internal/runs"
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
	// server starts the run on the data directory's velocity serve.
	server bool
}

// runRequest is what `run` and `rerun` ask the shared code to do.
type runRequest struct {
	runOptions
	// dir is the project directory (-C).
	dir string
	// rerun is the run to run again (velocity rerun), failed whether
	// only what did not succeed in it.
	rerun  int64
	failed bool
	// watchOnly follows a run without owning it (velocity watch): Ctrl-C
	// stops watching, the run goes on.
	watchOnly bool
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
	f.BoolVar(&o.server, "server", false, "run on the velocity serve that owns the data directory (its services, its environment) and show it here")
	f.StringVar(&o.cacheSize, "cache-size", "", "bound the blob store (outputs, logs, caches) to `SIZE`, e.g. 500MB, 10GB (default $VELOCITY_CACHE_SIZE, else 10GB); least recently used blobs go first")
}

// loadPipeline reads and validates the velocity.yml at path, naming it
// shown in messages; any problem is a usage error with every message
// already printed.
func (a *app) loadPipeline(path, shown, dir string) (*spec.Pipeline, error) {
	p, err := runs.LoadPipeline(path, shown, dir)
	return p, a.runsError(err, nil)
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
func relPath(path string) string { return runs.RelPath(path) }

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

func (a *app) run(ctx context.Context, o runRequest) error {
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
	req := o.startRequest(cacheSize)
	// $VELOCITY_PROXY_ADDR is this command's environment, not the service's.
	req.ProxyAddr = a.proxyAddr(o.proxyAddr)
	if o.rerun == 0 && o.commit == "" {
		// A broken definition or a mistyped name fails before the data
		// directory is opened, let alone the project copied.
		def, err := runs.Validate(req)
		if err != nil {
			return a.runsError(err, o.only)
		}
		req.Definition = def
	}
	began := time.Now()
	h, err := a.openHome(ctx)
	if err != nil {
		return err
	}
	defer func() {
		t := time.Now()
		h.Close()
		a.log.Debug("journal closed", "took", time.Since(t))
	}()
	a.log.Debug("journal opened", "took", time.Since(began))
	if o.server {
		return a.runOnServer(ctx, h, req, o, live)
	}
	svc, err := h.Runs(ctx)
	if err != nil {
		return err
	}
	id, err := svc.Start(ctx, req)
	if err != nil {
		return a.runsError(err, o.only)
	}
	if err := a.follow(ctx, followed{svc}, id, o, live); err != nil {
		return err
	}
	return a.runExit(ctx, svc, id)
}

// followed is the runs service of this process, whose runs wait for the
// terminal when it is slow to print rather than leaving it behind.
type followed struct{ *runs.Service }

func (f followed) Watch(ctx context.Context, id int64, from runs.Cursor) (<-chan runs.Event, error) {
	return f.Follow(ctx, id, from)
}

func (o runRequest) startRequest(cacheSize int64) runs.StartRequest {
	return runs.StartRequest{
		Dir: o.dir, Rerun: o.rerun, Failed: o.failed, Commit: o.commit, Only: o.only, Skip: o.skip, Jobs: o.jobs, NoCache: o.noCache,
		Approve: o.approve, KillGrace: o.killGrace, Strict: o.strict, PortRange: o.portRange,
		ProxyAddr: o.proxyAddr, Replace: o.replace, NoServe: o.noServe, CacheSize: cacheSize,
		KeepWorkspace: o.keepWorkspace,
	}
}

// follow renders run id in the terminal until its stream ends: the
// console's view, the approval prompt, and when the run finishes its
// report. Ctrl-C cancels the run; a second one skips its clean-up. With
// o.watchOnly the caller handles signals: the run is not this terminal's.
func (a *app) follow(ctx context.Context, svc runControl, id int64, o runRequest, live bool) error {
	con := console.New(a.stdout, console.Options{Live: live, Width: a.termWidth, Height: a.termHeight})
	if !o.watchOnly {
		stop := a.cancelOnSignal(svc, id, con)
		defer stop()
	}
	events, err := svc.Watch(ctx, id, 0)
	if err != nil {
		return err
	}
	for e := range events {
		con.Handle(e)
		if len(events) == 0 {
			con.Flush()
		}
		switch {
		case e.RunStarted != nil:
			con.Start()
		case e.ApprovalWaiting != nil:
			a.promptApproval(ctx, svc, id, e.ApprovalWaiting.Stage, con)
		case e.RunFinished != nil:
			con.Stop()
			a.report(context.WithoutCancel(ctx), svc, id, o, live)
		}
	}
	con.Stop()
	return nil
}

// cancelOnSignal cancels run id at the first SIGINT (or SIGTERM, SIGHUP)
// and forces it at the second; the returned func stops listening.
func (a *app) cancelOnSignal(svc runControl, id int64, con *console.Console) func() {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		n := 0
		for {
			select {
			case <-done:
				return
			case <-sigs:
			}
			n++
			switch n {
			case 1:
				con.Printf("velocity: stopping (press Ctrl-C again to skip clean-up)...\n")
				svc.Cancel(context.Background(), id, false)
			case 2:
				svc.Cancel(context.Background(), id, true)
			}
		}
	}()
	return func() {
		signal.Stop(sigs)
		close(done)
	}
}

// promptApproval lets the run's own terminal answer a stage's approval,
// when stdin is one; whoever decides first (velocity approve elsewhere)
// wins, and the run says so.
func (a *app) promptApproval(ctx context.Context, svc runControl, id int64, stage string, con *console.Console) {
	in := a.terminalInput()
	if in == nil {
		return
	}
	con.Printf("velocity: or answer here: approve stage %s? [y/N] ", stage)
	go func() {
		line, _ := bufio.NewReader(in).ReadString('\n')
		yes := strings.HasPrefix(strings.ToLower(strings.TrimSpace(line)), "y")
		if _, err := svc.Approve(context.WithoutCancel(ctx), id, stage, yes, "terminal"); err != nil && !errors.Is(err, runs.ErrInvalid) {
			a.log.Warn("approval from the terminal not recorded", "stage", stage, "err", err)
		}
	}()
}

// report prints the summary of a finished run and the end of the log of
// each action that failed it.
func (a *app) report(ctx context.Context, svc runControl, id int64, o runRequest, live bool) {
	d, err := svc.Show(ctx, id)
	if err != nil {
		return
	}
	fmt.Fprintln(a.stdout)
	console.Report(a.stdout, d.Run, d.Actions, console.ReportOptions{Color: live, Approvals: d.Approvals})
	console.Failures(a.stdout, id, d.Actions, d.Attempts, console.FailureOptions{Lines: o.tailLines, Color: live, Velocity: a.velocityCommand()})
}

// runExit waits for run id to end and turns how it ended into the exit
// status.
func (a *app) runExit(ctx context.Context, svc runControl, id int64) error {
	res, err := svc.Wait(ctx, id)
	if err != nil {
		return err
	}
	if res.Err != nil {
		return res.Err
	}
	switch res.Run.Status {
	case store.Succeeded:
		return nil
	case store.Cancelled:
		return &exitError{code: ExitInterrupted}
	}
	fmt.Fprintf(a.stderr, "velocity: run %d failed; see 'velocity logs %d' for the full output\n", id, id)
	fmt.Fprintf(a.stderr, "velocity: its files stay in %s until the project's next run\n", res.Run.Workspace)
	return &exitError{code: ExitFailed}
}

// runsError turns an invalid request into a usage error, printing a
// definition's problems first; only are the names the run selected, for
// a hint when one is a directory.
func (a *app) runsError(err error, only []string) error {
	var inv *runs.InvalidError
	if !errors.As(err, &inv) {
		return err
	}
	if len(inv.Problems) > 0 {
		printErrors(a.stderr, inv.Problems)
		fmt.Fprintf(a.stderr, "velocity: %v\n", inv.Err)
		return &exitError{code: ExitUsage}
	}
	hint := ""
	for _, name := range only {
		// "velocity run ../other" meant the project there, not an
		// action: say how to ask for that.
		if fi, statErr := os.Stat(name); statErr == nil && fi.IsDir() && errors.Is(err, runs.ErrNoMatch) {
			hint = fmt.Sprintf("\nvelocity: to run the project in %s, use: velocity run -C %s", name, shellQuote(name))
			break
		}
	}
	return usageError("%v%s", inv.Err, hint)
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
