package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/velocity-ci/velocity/internal/home"
)

func (a *app) workspacesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "workspaces",
		Short: "Manage the directories runs work in (clean)",
		Long: `Each project has a workspace in the data directory (workspaces/NAME-HASH,
and -2, -3... for runs going at the same time), kept between runs so that
tools' caches hit and paths in a run's output lead to its files.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "clean",
		Short: "Remove the workspaces no run is using (the next run copies its project afresh)",
		Args:  cobra.NoArgs,
		RunE: a.withHome(func(_ context.Context, h *home.Home, _ []string) error {
			removed, busy, err := h.RunsReader().CleanWorkspaces()
			for _, dir := range removed {
				fmt.Fprintf(a.stdout, "removed %s\n", dir)
			}
			for _, dir := range busy {
				fmt.Fprintf(a.stdout, "kept %s: a run is using it\n", dir)
			}
			if err == nil && len(removed)+len(busy) == 0 {
				fmt.Fprintln(a.stdout, "no workspaces")
			}
			return err
		}),
	})
	return cmd
}
