package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/velocity-ci/velocity/internal/home"
	"github.com/velocity-ci/velocity/internal/nodes"
	"github.com/velocity-ci/velocity/internal/server"
)

func (a *app) nodesCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "nodes",
		Short: "List the velocity serve nodes sharing the store, with their runs and load",
		Long: `List the velocity serve nodes that share this data directory's store
(--store, VELOCITY_STORE): each node's API address, when it last reported
itself, the runs it executes and how many of their actions run now. A node
that has been silent longer than the lease TTL is down: the other nodes
take its runs over. See docs/scale-out.md.`,
		Args: cobra.NoArgs,
		RunE: a.orRemote(a.withHome(func(ctx context.Context, h *home.Home, _ []string) error {
			list, err := h.Nodes().List(ctx)
			if err != nil {
				return err
			}
			return a.printNodes(list)
		}), func(ctx context.Context, c *server.Client, _ []string) error {
			list, err := c.Nodes(ctx)
			if err != nil {
				return err
			}
			return a.printNodes(list)
		}),
	}
}

// printNodes renders the nodes as a table.
func (a *app) printNodes(list []nodes.Node) error {
	if len(list) == 0 {
		fmt.Fprintln(a.stdout, "no nodes: no velocity serve reports to this store")
		return nil
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tADDRESS\tSTATE\tSEEN\tRUNS\tACTIONS")
	for _, n := range list {
		state := "up"
		if !n.Up {
			state = "down"
		}
		runs := make([]string, len(n.Runs))
		for i, id := range n.Runs {
			runs[i] = fmt.Sprint(id)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s ago\t%s\t%d\n", n.ID, orDash(n.Addr), state,
			time.Since(n.Seen).Round(time.Second), orDash(strings.Join(runs, ",")), n.Actions)
	}
	return tw.Flush()
}
