package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/velocity-ci/velocity/internal/dora"
	"github.com/velocity-ci/velocity/internal/fault"
	"github.com/velocity-ci/velocity/internal/home"
	"github.com/velocity-ci/velocity/internal/server"
)

func (a *app) metricsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "metrics",
		Short: "Measure the assembly line (the DORA four keys of a project)",
	}
	cmd.AddCommand(a.metricsDoraCmd())
	return cmd
}

func (a *app) metricsDoraCmd() *cobra.Command {
	var req dora.Request
	cmd := &cobra.Command{
		Use:   "dora PROJECT",
		Short: "Show a project's DORA four keys: deployment frequency, lead time, change failure rate, time to restore",
		Long: `Compute the four keys of DORA (DevOps Research and Assessment) for PROJECT
from the journal, over the last --days calendar days (UTC, today included):
how often changes went live in the environment, how long they took from
commit to live (median), the share of deploys that failed (a failed deploy
or health gate, or a rollback next), and how long the service took to be
restored after such a failure (median); each with its DORA performance band
(elite, high, medium, low). docs/dora.md says exactly how each is counted.
With VELOCITY_SERVER set, the server's journal is read.`,
		Args: cobra.ExactArgs(1),
		RunE: a.orRemote(a.withHome(func(ctx context.Context, h *home.Home, args []string) error {
			req.Project = args[0]
			rep, err := h.Dora().Keys(ctx, req)
			if err != nil {
				return err
			}
			printDora(a.stdout, rep)
			return nil
		}), func(ctx context.Context, c *server.Client, args []string) error {
			req.Project = args[0]
			rep, err := c.Dora(ctx, req)
			if errors.Is(err, fault.Invalid) {
				// A usage mistake, as it is locally.
				return usageError("%v", err)
			}
			if err != nil {
				return err
			}
			printDora(a.stdout, rep)
			return nil
		}),
	}
	cmd.Flags().IntVar(&req.Days, "days", 30, "the window: the last `N` days, today included (7, 30, 90…)")
	cmd.Flags().StringVar(&req.Environment, "environment", dora.DefaultEnvironment, "the `ENV` whose deploys count")
	return cmd
}

// printDora writes the four keys, one a line: the figure, what it was
// computed from, and its band ("-" when there was nothing to rate).
func printDora(w io.Writer, rep dora.Report) {
	fmt.Fprintf(w, "%s in %s, last %d days (%s to %s UTC)\n\n", rep.Project, rep.Environment, rep.Days,
		rep.From.Format("2006-01-02"), rep.To.AddDate(0, 0, -1).Format("2006-01-02"))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "KEY\tVALUE\tFROM\tBAND\n")
	f := rep.Frequency
	fmt.Fprintf(tw, "deployment frequency\t%.2f a day\t%s\t%s\n", f.PerDay, count(f.Deploys, "deploy"), band(f.Band))
	lt := rep.LeadTime
	fmt.Fprintf(tw, "lead time for changes\t%s\t%s\t%s\n", orNone(len(lt.Changes), "median "+dora.Span(lt.Median)), count(len(lt.Changes), "change"), band(lt.Band))
	cf := rep.FailureRate
	fmt.Fprintf(tw, "change failure rate\t%s\t%d of %s failed\t%s\n", orNone(cf.Changes, fmt.Sprintf("%.0f%%", cf.Rate*100)), cf.Failures, count(cf.Changes, "change"), band(cf.Band))
	rs := rep.Restore
	fmt.Fprintf(tw, "time to restore\t%s\t%d of %s restored\t%s\n", orNone(rs.Restored, "median "+dora.Span(rs.Median)), rs.Restored, count(len(rs.Recoveries), "failure"), band(rs.Band))
	tw.Flush()
	if len(lt.Changes) > 0 {
		fmt.Fprintf(w, "\nlead times:")
		for _, b := range lt.Buckets {
			fmt.Fprintf(w, "  %s: %d", b.Label, b.Count)
		}
		fmt.Fprintln(w)
	}
}

func count(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// orNone is s, or "-" when there were no n to compute it from.
func orNone(n int, s string) string {
	if n == 0 {
		return "-"
	}
	return s
}

func band(b dora.Band) string {
	if b == "" {
		return "-"
	}
	return string(b)
}
