package cli

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/velocity-ci/velocity/internal/console"
	"github.com/velocity-ci/velocity/internal/releases"
	"github.com/velocity-ci/velocity/internal/store"
)

// catalog is what the data directory knows of its releases, asking its
// host (when one runs) what serves.
func (a *app) catalog(h *home) *releases.Catalog {
	return &releases.Catalog{
		DataDir: h.dir, Journal: h.store, Runs: h.store,
		Serving: func(ctx context.Context) (releases.Status, bool) {
			c, st := a.dialServer(ctx, h)
			if c == nil {
				return st, false
			}
			c.Close()
			return st, true
		},
	}
}

func (a *app) releasesCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "releases ENV SERVICE",
		Short: "List the releases of a service in an environment, newest first; * marks the live one",
		Args:  cobra.ExactArgs(2),
		RunE: a.withHome(func(ctx context.Context, h *home, args []string) error {
			cat := a.catalog(h)
			rs, err := cat.Releases(ctx, args[0], args[1])
			if err != nil {
				return userError(err)
			}
			if len(rs) > 0 {
				return a.printDeployments(ctx, cat, rs)
			}
			// Releases that velocity run hosted before its deploys were
			// journaled have their directories only.
			return a.printReleaseDirs(ctx, cat, args[0], args[1])
		}),
	}
}

// printDeployments shows the journal of a service's deploys.
func (a *app) printDeployments(ctx context.Context, cat *releases.Catalog, ds []releases.Release) error {
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	// The project column appears once two projects deployed the same
	// service name here, so a rollback target is never mistaken.
	projects := map[string]bool{}
	for _, d := range ds {
		projects[d.Project] = true
	}
	project := func(d releases.Release) string { return "" }
	if len(projects) > 1 {
		fmt.Fprint(tw, "\tPROJECT")
		project = func(d releases.Release) string { return "\t" + console.Printable(cmp.Or(d.Project, "-")) }
	}
	fmt.Fprintln(tw, "\tRELEASE\tRUN\tCOMMIT\tSTATUS\tDEPLOYED\tNOTE")
	live := false
	for _, d := range ds {
		mark := ""
		if d.Status == store.Live {
			mark, live = "*", true
		}
		commit := d.Commit
		if len(commit) > 12 {
			commit = commit[:12]
		}
		note := d.Reason
		if d.Rollback && note == "" {
			note = "rollback"
		}
		fmt.Fprintf(tw, "%s%s\t%s\t%d\t%s\t%s\t%s\t%s\n", mark, project(d), d.Release, d.RunID, commit, d.Status,
			d.Created.Local().Format(time.DateTime), console.Printable(note))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if live && !cat.Hosted(ctx) {
		fmt.Fprintf(a.stderr, "velocity: no server is running; the live release comes back when 'velocity serve' starts\n")
	}
	return nil
}

// printReleaseDirs lists the release directories of a service.
func (a *app) printReleaseDirs(ctx context.Context, cat *releases.Catalog, env, service string) error {
	dirs, err := cat.ReleaseDirs(ctx, env, service)
	if err != nil {
		return userError(err)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RELEASE\tRUN\tCOMMIT\tDEPLOYED\tRUN STATUS")
	for _, d := range dirs {
		commit, when := d.Commit, ""
		if len(commit) > 12 {
			commit = commit[:12]
		}
		if !d.Deployed.IsZero() {
			when = d.Deployed.Local().Format(time.DateTime)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", d.Release, d.RunID, commit, when, d.RunStatus)
	}
	return tw.Flush()
}

func (a *app) serviceCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "service",
		Short: "Inspect deployed services",
	}
	var follow bool
	var release string
	logs := &cobra.Command{
		Use:   "logs ENV SERVICE",
		Short: "Print the output of the instances of a service's live release (-f to follow it across deploys)",
		Long: `Print the output of the instances of a service's live release, one instance
after the other under a header, oldest first. With -f, keep printing what they
write, each line prefixed with its instance, and when a new release goes live
(a deploy, a rollback) go on with its instances' output after a line
"-- now release rN --". --release shows (and follows) another release instead,
with every instance it ever had.`,
		Args: cobra.ExactArgs(2),
		RunE: a.withHome(func(ctx context.Context, h *home, args []string) error {
			env, service := args[0], args[1]
			cat := a.catalog(h)
			if err := cat.CheckService(env, service, release); err != nil {
				return userError(err)
			}
			lf := &logFollower{a: a, cat: cat, env: env, service: service, fixed: release, tails: map[string]*logTail{}}
			return lf.run(ctx, follow)
		}),
	}
	logs.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new output, across deploys, until Ctrl-C")
	logs.Flags().StringVar(&release, "release", "", "a release other than the live one (see 'velocity releases')")
	cmd.AddCommand(logs, a.serviceStatusCmd())
	return cmd
}

func (a *app) serviceStatusCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "status [ENV [SERVICE]]",
		Short: "Show what velocity serve runs: each service's release, URL and instances",
		Args:  cobra.MaximumNArgs(2),
		RunE: a.withHome(func(ctx context.Context, h *home, args []string) error {
			c, _ := a.dialServer(ctx, h)
			if c == nil {
				return fmt.Errorf("no server is running for %s: start one with 'velocity serve'", h.dir)
			}
			defer c.Close()
			st, err := c.Status(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "velocity serve %s (pid %d), proxy at %s\n", st.Version, st.Pid, st.ProxyURL)
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ENV\tSERVICE\tRELEASE\tINSTANCE\tADDR\tSTATE\tHEALTH\tRESTARTS")
			shown := 0
			for _, s := range st.Services {
				if len(args) > 0 && s.Environment != args[0] || len(args) > 1 && s.Service != args[1] {
					continue
				}
				shown++
				release := s.Release
				if release == "" {
					release = "-"
				}
				if len(s.Warm) > 0 {
					release += " (warm: " + strings.Join(s.Warm, ", ") + ")"
				}
				if len(s.Instances) == 0 {
					fmt.Fprintf(tw, "%s\t%s\t%s\t-\t\t\t\t\n", s.Environment, s.Service, release)
				}
				for _, in := range s.Instances {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", s.Environment, s.Service, release, in.ID, in.Addr, in.State, in.Health, in.Restarts)
				}
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if shown == 0 {
				fmt.Fprintln(a.stdout, "(nothing deployed here yet)")
			}
			return nil
		}),
	}
}

// logFollower prints the instance logs of one service.
type logFollower struct {
	a            *app
	cat          *releases.Catalog
	env, service string
	fixed        string // --release: this release only, every instance

	release string              // the release being shown
	tails   map[string]*logTail // by log file
	order   []*logTail
}

// shown is the release to show and its instances to show (nil: all):
// --release's with every instance it had, else the live one's.
func (f *logFollower) shown(ctx context.Context) (string, []string, error) {
	if f.fixed != "" {
		return f.fixed, nil, nil
	}
	return f.cat.Live(ctx, f.env, f.service)
}

func (f *logFollower) run(ctx context.Context, follow bool) error {
	terminal, _ := f.a.liveOutput("auto")
	buf := make([]byte, 32*1024)
	if !follow {
		return f.print(ctx, buf, terminal)
	}
	for {
		release, ids, err := f.shown(ctx)
		if err != nil {
			return err
		}
		if f.release != "" && release != f.release {
			// The old instances' last words (their "stopped" lines) first.
			if err := f.copyAll(buf, terminal, true); err != nil {
				return err
			}
			fmt.Fprintf(f.a.stdout, "-- now release %s --\n", release)
			f.tails, f.order = map[string]*logTail{}, nil
		}
		f.release = release
		// A release directory not there (yet) has nothing to show: keep
		// following rather than end the command.
		files, _, _ := f.cat.InstanceLogs(f.env, f.service, release, ids)
		for _, lf := range files {
			if f.tails[lf.Path] == nil {
				t := &logTail{att: store.Attempt{Log: lf.Path, Action: lf.Instance}, prefix: "[" + lf.Instance + "] "}
				f.tails[lf.Path] = t
				f.order = append(f.order, t)
			}
		}
		if err := f.copyAll(buf, terminal, false); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// copyAll prints what the tailed logs gained; flush ends their last lines.
func (f *logFollower) copyAll(buf []byte, terminal, flush bool) error {
	for _, t := range f.order {
		if err := f.a.copyLog(t, buf, terminal); err != nil {
			return err
		}
		if flush {
			t.lines.Flush(func(line []byte) { f.a.emitLine(t, line, terminal) })
		}
	}
	return nil
}

// print shows each instance's log once, under a header.
func (f *logFollower) print(ctx context.Context, buf []byte, terminal bool) error {
	release, ids, err := f.shown(ctx)
	if err != nil {
		return err
	}
	files, hidden, err := f.cat.InstanceLogs(f.env, f.service, release, ids)
	if err != nil {
		return userError(err)
	}
	for _, lf := range files {
		fmt.Fprintf(f.a.stdout, "== %s (release %s) ==\n", lf.Instance, release)
		t := &logTail{att: store.Attempt{Log: lf.Path, Action: lf.Instance}}
		if err := f.a.copyLog(t, buf, terminal); err != nil {
			return err
		}
		t.lines.Flush(func(line []byte) { f.a.emitLine(t, line, terminal) })
		if !terminal && !endsLine(lf.Path, t.off) {
			fmt.Fprintln(f.a.stdout) // the next header on a line of its own
		}
	}
	switch {
	case len(files) == 0 && hidden == 0:
		fmt.Fprintf(f.a.stderr, "velocity: no instance logs of release %s yet\n", release)
	case hidden > 0:
		fmt.Fprintf(f.a.stderr, "velocity: not shown: %d log(s) of instances of %s that no longer run (--release %s shows them)\n",
			hidden, release, release)
	}
	return nil
}

// endsLine reports whether the first off bytes of the file at path end
// with a newline (or are none).
func endsLine(path string, off int64) bool {
	if off == 0 {
		return true
	}
	f, err := os.Open(path)
	if err != nil {
		return true
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off-1); err != nil {
		return true
	}
	return b[0] == '\n'
}
