package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/velocity-ci/velocity/internal/console"
	"github.com/velocity-ci/velocity/internal/store"
)

// releaseDirs lists ENV/SERVICE's release directories, newest first.
func (h *home) releaseDirs(env, service string) ([]string, error) {
	base := filepath.Join(h.dir, "releases", env, service)
	entries, err := os.ReadDir(base)
	if os.IsNotExist(err) {
		return nil, usageError("no releases of %s in %s yet (deploy it with a deploy: action)", service, env)
	}
	if err != nil {
		return nil, err
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), "r") {
			dirs = append(dirs, filepath.Join(base, e.Name()))
		}
	}
	// Release rN comes from run N: newest run first.
	sort.Slice(dirs, func(i, j int) bool { return releaseRun(dirs[i]) > releaseRun(dirs[j]) })
	return dirs, nil
}

func releaseRun(dir string) int64 {
	n, _ := strconv.ParseInt(strings.TrimPrefix(filepath.Base(dir), "r"), 10, 64)
	return n
}

func (a *app) releasesCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "releases ENV SERVICE",
		Short: "List the releases of a service in an environment, newest first; * marks the live one",
		Args:  cobra.ExactArgs(2),
		RunE: a.withHome(func(ctx context.Context, h *home, args []string) error {
			ds, err := h.store.Deployments(ctx, args[0], args[1])
			if err != nil {
				return err
			}
			if len(ds) > 0 {
				return a.printDeployments(ctx, h, ds)
			}
			// Releases that velocity run hosted itself are not journaled:
			// they lived only as long as the run.
			return a.printReleaseDirs(ctx, h, args[0], args[1])
		}),
	}
}

// printDeployments shows the journal of a service's deploys.
func (a *app) printDeployments(ctx context.Context, h *home, ds []store.Deployment) error {
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
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
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n", mark, d.Release, d.RunID, commit, d.Status,
			d.Created.Local().Format(time.DateTime), console.Printable(note))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if live {
		if c, _ := a.dialServer(ctx, h); c != nil {
			c.Close()
		} else {
			fmt.Fprintf(a.stderr, "velocity: no server is running; the live release comes back when 'velocity serve' starts\n")
		}
	}
	return nil
}

// printReleaseDirs lists the release directories of a service.
func (a *app) printReleaseDirs(ctx context.Context, h *home, env, service string) error {
	dirs, err := h.releaseDirs(env, service)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RELEASE\tRUN\tCOMMIT\tDEPLOYED\tRUN STATUS")
	for _, d := range dirs {
		id := releaseRun(d)
		commit, status, when := "", "", ""
		if r, err := h.store.Run(ctx, id); err == nil {
			commit, status = r.Commit, string(r.Status)
			if len(commit) > 12 {
				commit = commit[:12]
			}
		}
		if fi, err := os.Stat(d); err == nil {
			when = fi.ModTime().Local().Format(time.DateTime)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", filepath.Base(d), id, commit, when, status)
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
		Short: "Print the instances' own output of a service's live (else newest) release (-f to follow)",
		Args:  cobra.ExactArgs(2),
		RunE: a.withHome(func(ctx context.Context, h *home, args []string) error {
			dirs, err := h.releaseDirs(args[0], args[1])
			if err != nil {
				return err
			}
			dir := dirs[0]
			if release == "" {
				// After a rollback the live release is not the newest.
				release = liveRelease(ctx, h, args[0], args[1])
			}
			if release != "" {
				dir = ""
				for _, d := range dirs {
					if filepath.Base(d) == release {
						dir = d
					}
				}
				if dir == "" {
					return usageError("no release %s of %s in %s (see 'velocity releases %s %s')", release, args[1], args[0], args[0], args[1])
				}
			}
			return a.followInstanceLogs(ctx, dir, follow)
		}),
	}
	logs.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new output until Ctrl-C")
	logs.Flags().StringVar(&release, "release", "", "a release other than the live one (see 'velocity releases')")
	cmd.AddCommand(logs, a.serviceStatusCmd())
	return cmd
}

// liveRelease is the journal's live release of service in env, if any.
func liveRelease(ctx context.Context, h *home, env, service string) string {
	ds, err := h.store.Deployments(ctx, env, service)
	if err != nil {
		return ""
	}
	for _, d := range ds {
		if d.Status == store.Live {
			return d.Release
		}
	}
	return ""
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

// followInstanceLogs prints every instance log of a release, prefixed with
// the instance, and with follow keeps printing what is appended.
func (a *app) followInstanceLogs(ctx context.Context, dir string, follow bool) error {
	tails := map[string]*logTail{}
	buf := make([]byte, 32*1024)
	terminal, _ := a.liveOutput("auto")
	for {
		files, _ := filepath.Glob(filepath.Join(dir, ".logs", "*.log"))
		sort.Strings(files)
		for _, f := range files {
			t := tails[f]
			if t == nil {
				id := strings.TrimSuffix(filepath.Base(f), ".log")
				t = &logTail{att: store.Attempt{Log: f, Stage: "", Action: id}, prefix: "[" + id + "] "}
				tails[f] = t
			}
			if err := a.copyLog(t, buf, terminal); err != nil {
				return err
			}
			if !follow {
				t.lines.Flush(func(line []byte) { a.emitLine(t, line, terminal) })
			}
		}
		if !follow {
			if len(files) == 0 {
				fmt.Fprintf(a.stderr, "velocity: no instance logs in %s\n", dir)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(200 * time.Millisecond):
		}
	}
}
