package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/velocity-ci/velocity/internal/home"
)

// registryCollectEvery is how often velocity serve collects the
// registry: pushes are rare next to runs, and a collection walks every
// repository.
const registryCollectEvery = time.Hour

// registryCmd looks after the built-in container registry on the data
// directory itself, like 'velocity token': whoever may open the
// directory owns the registry.
func (a *app) registryCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "registry",
		Short: "Look after the built-in container registry (list, collect)",
		Long: `velocity serve --listen serves a container registry at /v2/ of its
address: docker login, push and pull work against it with API tokens
(viewer pulls, developer pushes). These commands work on the data
directory itself and need no token.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(a.registryLsCmd(), a.registryGCCmd())
	return cmd
}

func (a *app) registryLsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "ls",
		Short: "List the registry's repositories and their tags",
		Args:  cobra.NoArgs,
		RunE: a.withHome(func(ctx context.Context, h *home.Home, _ []string) error {
			svc, err := h.Registry()
			if err != nil {
				return err
			}
			repos, err := svc.Repositories(ctx)
			if err != nil {
				return err
			}
			if len(repos) == 0 {
				fmt.Fprintln(a.stdout, "no repositories yet: docker push HOST:PORT/NAME:TAG to velocity serve --listen HOST:PORT")
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "REPOSITORY\tTAG\tDIGEST")
			for _, r := range repos {
				if len(r.Tags) == 0 {
					fmt.Fprintf(tw, "%s\t-\t-\n", r.Name)
				}
				for _, t := range r.Tags {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Name, t.Name, t.Digest)
				}
			}
			return tw.Flush()
		}),
	}
}

func (a *app) registryGCCmd() *cobra.Command {
	var grace time.Duration
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Remove untagged images nothing keeps, then the layers and uploads nothing needs",
		Long: `Remove the manifests no tag names and no live release keeps, older than
the grace period; then the layers no remaining manifest references and
the uploads abandoned for the grace period. velocity serve does this
every hour on its own.`,
		Args: cobra.NoArgs,
		RunE: a.withHome(func(ctx context.Context, h *home.Home, _ []string) error {
			svc, err := h.Registry()
			if err != nil {
				return err
			}
			svc.Grace = grace
			got, err := svc.Collect(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "velocity: registry: removed %d manifests, %d blobs (%d bytes), %d uploads\n", got.Manifests, got.Blobs, got.Bytes, got.Uploads)
			return nil
		}),
	}
	cmd.Flags().DurationVar(&grace, "grace", 0, "keep content younger than this whatever references it (default 1h)")
	return cmd
}

// collectRegistry collects the registry every registryCollectEvery
// until ctx ends.
func (a *app) collectRegistry(ctx context.Context, h *home.Home) {
	svc, err := h.Registry()
	if err != nil {
		fmt.Fprintf(a.stderr, "velocity: registry collection off: %v\n", err)
		return
	}
	go svc.CollectEvery(ctx, registryCollectEvery)
}

// sizeFlag is a flag of a size such as 500MB or 2GiB.
type sizeFlag struct{ n *int64 }

func (f sizeFlag) String() string {
	if f.n == nil || *f.n == 0 {
		return ""
	}
	return fmt.Sprint(*f.n)
}

func (f sizeFlag) Set(s string) error {
	n, err := parseSize(s)
	if err != nil {
		return err
	}
	*f.n = n
	return nil
}

func (f sizeFlag) Type() string { return "SIZE" }
