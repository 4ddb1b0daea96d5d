package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/velocity-ci/velocity/internal/console"
	"github.com/velocity-ci/velocity/internal/home"
	"github.com/velocity-ci/velocity/internal/runs"
	"github.com/velocity-ci/velocity/internal/server"
	"github.com/velocity-ci/velocity/internal/spec"
	"github.com/velocity-ci/velocity/internal/store"
)

func (a *app) runsCmd() *cobra.Command {
	var all bool
	var limit int
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "List past runs, newest first",
		Long: `List past runs, newest first. Inside a project (a directory with velocity.yml)
only that project's runs are listed unless --all is given.`,
		Args: cobra.NoArgs,
		RunE: a.orRemote(a.withHome(func(ctx context.Context, h *home.Home, _ []string) error {
			f := store.RunFilter{Limit: limit}
			if !all {
				f.Project = a.currentProject()
			}
			list, err := h.RunsReader().List(ctx, f)
			if err != nil {
				return err
			}
			return a.printRuns(list)
		}), func(ctx context.Context, c *server.Client, _ []string) error {
			project := ""
			if !all {
				project = a.currentProject()
			}
			list, err := c.ListRuns(ctx, project, limit)
			if err != nil {
				return err
			}
			return a.printRuns(list)
		}),
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "list the runs of every project")
	cmd.Flags().IntVarP(&limit, "limit", "n", 20, "show at most `N` runs")
	return cmd
}

// printRuns renders a list of runs as a table.
func (a *app) printRuns(list []store.Run) error {
	if len(list) == 0 {
		fmt.Fprintln(a.stdout, "no runs yet: start one with 'velocity run'")
		return nil
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tSTATUS\tPROJECT\tCOMMIT\tBRANCH\tSTARTED\tDURATION\tSELECTION")
	for _, r := range list {
		commit := r.Commit
		if len(commit) > 8 {
			commit = commit[:8]
		}
		if r.Dirty {
			commit += "+"
		}
		d := ""
		if !r.Finished.IsZero() {
			d = console.Duration(r.Finished.Sub(r.Created))
		}
		selection := "all"
		if r.Selection.Partial() {
			selection = runs.DescribeSelection(r.Selection.Only, r.Selection.Skip)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Status, r.Project, commit, r.Branch,
			r.Created.Local().Format(time.DateTime), d, selection)
	}
	return tw.Flush()
}

// currentProject names the project in -C, or "" when there is none or its
// definition does not parse (then every run is listed).
func (a *app) currentProject() string {
	dir, err := filepath.Abs(a.dir)
	if err != nil {
		return ""
	}
	path := filepath.Join(dir, spec.FileName)
	if _, err := os.Stat(path); err != nil {
		return ""
	}
	p, err := spec.Load(path)
	if err != nil {
		return ""
	}
	if p.Name == "" {
		return filepath.Base(dir)
	}
	return p.Name
}
