package cli

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/velocity-ci/velocity/internal/home"
	"github.com/velocity-ci/velocity/internal/runs"
	"github.com/velocity-ci/velocity/internal/store"
)

func (a *app) artifactsCmd() *cobra.Command {
	var to string
	cmd := &cobra.Command{
		Use:   "artifacts RUN [ACTION]",
		Short: "List a run's outputs, or extract them with --to DIR",
		Long: `List the files a run's actions produced (their outputs:), with sizes and
digests. With --to DIR, write them into DIR (each file verified against its
digest). ACTION is a name, or stage/name.`,
		Args: cobra.RangeArgs(1, 2),
		RunE: a.withHome(func(ctx context.Context, h *home.Home, args []string) error {
			run, err := a.runArg(ctx, h, args[0])
			if err != nil {
				return err
			}
			var only *store.Key
			if len(args) == 2 {
				k, err := a.actionArg(ctx, h, run, args[1])
				if err != nil {
					return err
				}
				only = &k
			}
			outs, err := h.RunsReader().Outputs(ctx, run.ID, only)
			if err != nil {
				return err
			}
			if len(outs) == 0 {
				fmt.Fprintf(a.stderr, "run %d has no outputs%s (actions declare them with outputs:)\n", run.ID,
					map[bool]string{true: " for that action", false: ""}[len(args) == 2])
				if to != "" {
					return &exitError{code: ExitFailed}
				}
				return nil
			}
			if to != "" {
				return a.extract(ctx, h, outs, to)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ACTION\tPATH\tSIZE\tDIGEST")
			for _, o := range outs {
				// Directories and links have no content: they show what
				// they are instead of a size of 0 and no digest.
				switch mode := fs.FileMode(o.Mode); {
				case mode.IsDir():
					fmt.Fprintf(tw, "%s/%s\t%s/\t-\t\n", o.Stage, o.Action, o.Path)
				case mode&fs.ModeSymlink != 0:
					fmt.Fprintf(tw, "%s/%s\t%s -> %s\t-\t\n", o.Stage, o.Action, o.Path, o.Link)
				default:
					fmt.Fprintf(tw, "%s/%s\t%s\t%d\t%.19s\n", o.Stage, o.Action, o.Path, o.Size, o.Digest)
				}
			}
			return tw.Flush()
		}),
	}
	cmd.Flags().StringVar(&to, "to", "", "extract the outputs into `DIR` (created if missing)")
	return cmd
}

// extract writes outs into to from the data directory's blob store.
func (a *app) extract(ctx context.Context, h *home.Home, outs []store.Output, to string) error {
	svc, err := h.RunsArchive()
	if err != nil {
		return err
	}
	n, err := svc.Extract(ctx, outs, to)
	if err != nil {
		return err
	}
	abs, _ := filepath.Abs(to)
	fmt.Fprintf(a.stdout, "extracted %s into %s\n", countEntries(n), abs)
	return nil
}

// countEntries says how many files, symlinks and directories n counts:
// "3 files", "2 files, 1 symlink and 1 directory".
func countEntries(n runs.Extracted) string {
	regular, links, dirs := n.Files, n.Symlinks, n.Dirs
	parts := []string{fmt.Sprintf("%d %s", regular, plural(regular, "file"))}
	if links > 0 {
		parts = append(parts, fmt.Sprintf("%d %s", links, plural(links, "symlink")))
	}
	if dirs > 0 {
		parts = append(parts, fmt.Sprintf("%d %s", dirs, map[bool]string{true: "directory", false: "directories"}[dirs == 1]))
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}
