package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/velocity-ci/velocity/internal/home"
	"github.com/velocity-ci/velocity/internal/server"
)

func (a *app) rollbackCmd() *cobra.Command {
	var to string
	cmd := &cobra.Command{
		Use:   "rollback ENV SERVICE",
		Short: "Put the release that served before the live one back (or --to RELEASE), through velocity serve",
		Long: `Deploy an earlier release of SERVICE in ENV again, by the service's strategy:
by default the release that served before the live one went live, found in
the journal; with --to, the named one (see 'velocity releases ENV SERVICE').
A blue-green release still kept warm comes back at once, by switching
traffic to its running instances. Rollback needs the server that runs the
services: start it with 'velocity serve'.`,
		Args: cobra.ExactArgs(2),
		RunE: a.withHome(func(ctx context.Context, h *home.Home, args []string) error {
			c, _ := h.DialServer(ctx)
			if c == nil {
				return fmt.Errorf("no server is running for %s, and rollback needs the one that runs the services: "+
					"start it with 'velocity serve' (then deploy through it with 'velocity run')", h.Dir)
			}
			defer c.Close()
			res, err := c.Rollback(ctx, server.RollbackRequest{Environment: args[0], Service: args[1], To: to}, a.stdout)
			if err != nil {
				if uerr := userError(err); uerr != err {
					return uerr
				}
				return fmt.Errorf("rollback of %s in %s: %w", args[1], args[0], err)
			}
			how := ""
			if res.Warm {
				how = " (switched back to its warm instances; nothing was started)"
			}
			fmt.Fprintf(a.stdout, "velocity: %s/%s: release %s serves again at %s%s\n", args[0], args[1], res.Release, res.URL, how)
			return nil
		}),
	}
	cmd.Flags().StringVar(&to, "to", "", "the `RELEASE` to put back, e.g. r12 (default: the one before the live one)")
	return cmd
}
