package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/velocity-ci/velocity/internal/access"
	"github.com/velocity-ci/velocity/internal/home"
)

// tokenCmd manages the server's API tokens on the data directory itself:
// whoever may open it owns the server, so no token is needed here — this
// is how the first admin token is made.
func (a *app) tokenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Manage the API tokens of velocity serve (create, list, revoke)",
		Long: `API tokens let people and programs use the server's HTTP API and git
remote. Each has a role: viewer (read), developer (also start, approve,
cancel and rerun runs, deploy and roll back) or admin (also projects,
secrets, tokens). Run these commands on the server machine, as the owner
of its data directory: they need no token.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(a.tokenCreateCmd(), a.tokenListCmd(), a.tokenRevokeCmd())
	return cmd
}

func (a *app) tokenCreateCmd() *cobra.Command {
	var role string
	cmd := &cobra.Command{
		Use:   "create NAME --role ROLE",
		Short: "Create a token and print its secret (shown this once only)",
		Args:  cobra.ExactArgs(1),
		RunE: a.withHome(func(ctx context.Context, h *home.Home, args []string) error {
			if role == "" {
				return usageError("--role is required: viewer, developer or admin")
			}
			r, err := access.ParseRole(role)
			if err != nil {
				return usageError("--role: %v", err)
			}
			secret, err := h.Access().Create(ctx, args[0], r)
			if err != nil {
				return err
			}
			// The secret alone goes to standard output, so that a script
			// can take it: TOKEN=$(velocity token create ci --role developer).
			fmt.Fprintln(a.stdout, secret)
			fmt.Fprintf(a.stderr, "velocity: token %s (%s) created. Copy its secret now: it is stored hashed and cannot be shown again.\n", args[0], r)
			return nil
		}),
	}
	cmd.Flags().StringVar(&role, "role", "", "what the token may do: viewer, developer or admin (required)")
	return cmd
}

func (a *app) tokenListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List tokens: names, roles, when created and last used (never secrets)",
		Args:  cobra.NoArgs,
		RunE: a.withHome(func(ctx context.Context, h *home.Home, _ []string) error {
			list, err := h.Access().List(ctx)
			if err != nil {
				return err
			}
			if len(list) == 0 {
				fmt.Fprintln(a.stdout, "no tokens yet: create one with 'velocity token create NAME --role admin'")
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tROLE\tCREATED\tLAST USED\tREVOKED")
			for _, t := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.Name, t.Role, when(t.Created), when(t.LastUsed), when(t.Revoked))
			}
			return tw.Flush()
		}),
	}
}

func (a *app) tokenRevokeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "revoke NAME",
		Short: "Revoke a token: requests with it are refused from now on",
		Args:  cobra.ExactArgs(1),
		RunE: a.withHome(func(ctx context.Context, h *home.Home, args []string) error {
			if err := h.Access().Revoke(ctx, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "velocity: token %s revoked\n", args[0])
			return nil
		}),
	}
}

// when renders a time of the token list; never is a dash.
func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format(time.DateTime)
}
