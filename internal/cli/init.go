package cli

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/velocity-ci/velocity/internal/scaffold"
)

func (a *app) initCmd() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Write a commented velocity.yml for the project (Go, Node, Python, Rust, Java, Make or a test script)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := filepath.Abs(a.dir)
			if err != nil {
				return usageError("directory %q: %v", a.dir, err)
			}
			kind, path, err := scaffold.Write(dir, force)
			if err != nil {
				var exists *scaffold.ExistsError
				if errors.As(err, &exists) {
					return usageError("%v", err)
				}
				return err
			}
			fmt.Fprintf(a.stdout, "wrote %s for a %s project\n", relPath(path), kind)
			fmt.Fprintf(a.stdout, "next: 'velocity validate' checks it, 'velocity run' runs it\n")
			return nil
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "overwrite an existing velocity.yml")
	return cmd
}
