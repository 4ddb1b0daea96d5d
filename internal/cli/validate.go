package cli

import (
	"fmt"

	"github.com/spf13/cobra"
	"github.com/velocity-ci/velocity/internal/runs"
)

func (a *app) validateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate",
		Short: "Check velocity.yml and report every problem with its line and column",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, _, err := a.projectPipeline()
			if err != nil {
				return err
			}
			stages, actions := runs.Size(p)
			fmt.Fprintf(a.stdout, "velocity.yml is valid: %d %s, %d %s\n",
				stages, plural(stages, "stage"), actions, plural(actions, "action"))
			return nil
		},
	}
}
