package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/velocity-ci/velocity/internal/home"
	"github.com/velocity-ci/velocity/internal/trigger"
)

func (a *app) schedulesCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "schedules",
		Short: "List the projects' schedules with their next fire time",
		Long: `List the schedules of every project (schedules: in the velocity.yml at the
head of the project's branch) with the next time each fires. velocity serve
fires them; one missed while the server was down fires once when it is back.`,
		Args: cobra.NoArgs,
		RunE: a.withHome(func(ctx context.Context, h *home.Home, _ []string) error {
			svc, _, err := h.Projects(nil)
			if err != nil {
				return err
			}
			entries, problems, err := svc.Schedules(ctx)
			if err != nil {
				return err
			}
			for _, p := range problems {
				fmt.Fprintf(a.stderr, "velocity: %s\n", p)
			}
			if len(entries) == 0 {
				fmt.Fprintln(a.stdout, "no schedules: add schedules: to a project's velocity.yml (see docs/pipeline.md)")
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PROJECT\tSCHEDULE\tCRON\tBRANCH\tNEXT")
			for _, n := range trigger.Upcoming(entries, time.Now()) {
				e := n.Entry
				next := "never (no such date)"
				if !n.At.IsZero() {
					next = n.At.In(e.Cron.Location()).Format("2006-01-02 15:04 MST")
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Project, e.Name, e.Cron, e.Branch, next)
			}
			return tw.Flush()
		}),
	}
}
