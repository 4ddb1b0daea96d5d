package cli

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/velocity-ci/velocity/internal/console"
	"github.com/velocity-ci/velocity/internal/home"
	"github.com/velocity-ci/velocity/internal/releases"
	"github.com/velocity-ci/velocity/internal/store"
)

func (a *app) releasesCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "releases ENV SERVICE",
		Short: "List the releases of a service in an environment, newest first; * marks the live one",
		Args:  cobra.ExactArgs(2),
		RunE: a.withHome(func(ctx context.Context, h *home.Home, args []string) error {
			cat := h.Catalog()
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
		RunE: a.withHome(func(ctx context.Context, h *home.Home, args []string) error {
			env, service := args[0], args[1]
			cat := h.Catalog()
			if err := cat.CheckService(env, service, release); err != nil {
				return userError(err)
			}
			return a.printServiceLogs(ctx, cat, releases.LogRequest{Environment: env, Service: service, Release: release}, follow)
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
		RunE: a.withHome(func(ctx context.Context, h *home.Home, args []string) error {
			st, ok := h.Catalog().Serving(ctx)
			if !ok {
				return fmt.Errorf("no server is running for %s: start one with 'velocity serve'", h.Dir)
			}
			fmt.Fprintf(a.stdout, "%s %s (pid %d), proxy at %s\n", cmp.Or(st.Host, "velocity serve"), st.Version, st.Pid, st.ProxyURL)
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

// logPrinter prints the instance logs of one service.
type logPrinter struct {
	a        *app
	terminal bool
	lines    map[string]*console.LineSplitter // by instance
	order    []string                         // instances, as they came
}

func (a *app) printServiceLogs(ctx context.Context, cat *releases.Catalog, req releases.LogRequest, follow bool) error {
	terminal, _ := a.liveOutput("auto")
	p := &logPrinter{a: a, terminal: terminal, lines: map[string]*console.LineSplitter{}}
	if follow {
		return cat.FollowLogs(ctx, req, 300*time.Millisecond, p.follow)
	}
	return p.print(ctx, cat, req)
}

// follow prints what the instances write, each line prefixed with its
// instance, and a line when another release goes live.
func (p *logPrinter) follow(ev releases.LogEvent) error {
	if ev.NowRelease != "" {
		for _, instance := range p.order {
			p.lines[instance].Flush(func(line []byte) { p.emit("["+instance+"] ", line) })
		}
		p.lines, p.order = map[string]*console.LineSplitter{}, nil
		_, err := fmt.Fprintf(p.a.stdout, "-- now release %s --\n", ev.NowRelease)
		return err
	}
	ls := p.lines[ev.Instance]
	if ls == nil {
		ls = &console.LineSplitter{}
		p.lines[ev.Instance] = ls
		p.order = append(p.order, ev.Instance)
	}
	ls.Feed(ev.Data, func(line []byte) { p.emit("["+ev.Instance+"] ", line) })
	return nil
}

func (p *logPrinter) emit(prefix string, line []byte) {
	if p.terminal {
		fmt.Fprintf(p.a.stdout, "%s%s\n", prefix, console.Printable(string(line)))
		return
	}
	fmt.Fprintf(p.a.stdout, "%s%s\n", prefix, line)
}

// print shows each instance's log once, under a header.
func (p *logPrinter) print(ctx context.Context, cat *releases.Catalog, req releases.LogRequest) error {
	release, shown, hidden, err := cat.ReadLogs(ctx, req, func(release, instance string, r io.Reader) error {
		fmt.Fprintf(p.a.stdout, "== %s (release %s) ==\n", instance, release)
		return p.copy(r)
	})
	if err != nil {
		return userError(err)
	}
	switch {
	case shown == 0 && hidden == 0:
		fmt.Fprintf(p.a.stderr, "velocity: no instance logs of release %s yet\n", release)
	case hidden > 0:
		fmt.Fprintf(p.a.stderr, "velocity: not shown: %d log(s) of instances of %s that no longer run (--release %s shows them)\n",
			hidden, release, release)
	}
	return nil
}

// copy prints one instance's log: piped, the bytes exactly as the
// instance wrote them; on a terminal, line by line made printable.
func (p *logPrinter) copy(r io.Reader) error {
	if p.terminal {
		var ls console.LineSplitter
		buf := make([]byte, 32*1024)
		for {
			n, err := r.Read(buf)
			ls.Feed(buf[:n], func(line []byte) { p.emit("", line) })
			if err == io.EOF {
				ls.Flush(func(line []byte) { p.emit("", line) })
				return nil
			}
			if err != nil {
				return err
			}
		}
	}
	last := &lastByte{w: p.a.stdout}
	if _, err := io.Copy(last, r); err != nil {
		return err
	}
	if last.b != 0 && last.b != '\n' {
		fmt.Fprintln(p.a.stdout) // the next header on a line of its own
	}
	return nil
}

// lastByte writes to w, remembering the last byte written.
type lastByte struct {
	w io.Writer
	b byte
}

func (l *lastByte) Write(p []byte) (int, error) {
	if len(p) > 0 {
		l.b = p[len(p)-1]
	}
	return l.w.Write(p)
}
