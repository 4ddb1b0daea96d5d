package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/velocity-ci/velocity/internal/artifact"
	"github.com/velocity-ci/velocity/internal/engine"
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
		RunE: a.withHome(func(ctx context.Context, h *home, args []string) error {
			run, err := a.runArg(ctx, h, args[0])
			if err != nil {
				return err
			}
			outs, err := h.store.Outputs(ctx, run.ID)
			if err != nil {
				return err
			}
			if len(args) == 2 {
				k, err := a.actionArg(ctx, h, run, args[1])
				if err != nil {
					return err
				}
				var kept []store.Output
				for _, o := range outs {
					if o.Stage == k.Stage && o.Action == k.Name {
						kept = append(kept, o)
					}
				}
				outs = kept
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
				return a.extract(h, outs, to)
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

func (a *app) extract(h *home, outs []store.Output, to string) error {
	blobs, err := artifact.OpenBlobs(h.blobDir())
	if err != nil {
		return err
	}
	files, err := engine.OutputFiles(outs)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(to, 0o755); err != nil {
		return err
	}
	if err := blobs.Restore(to, files); err != nil {
		if errors.Is(err, artifact.ErrNotFound) {
			return fmt.Errorf("%w (evicted from the blob store: raise --cache-size to keep outputs longer)", err)
		}
		return err
	}
	abs, _ := filepath.Abs(to)
	fmt.Fprintf(a.stdout, "extracted %s into %s\n", countEntries(files), abs)
	return nil
}

// countEntries says how many files, symlinks and directories files holds:
// "3 files", "2 files, 1 symlink and 1 directory".
func countEntries(files []artifact.File) string {
	var regular, links, dirs int
	for _, f := range files {
		switch {
		case f.IsDir():
			dirs++
		case f.IsSymlink():
			links++
		default:
			regular++
		}
	}
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
