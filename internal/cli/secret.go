package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/velocity-ci/velocity/internal/secret"
)

func (a *app) secretCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secret",
		Short: "Manage secrets (stored encrypted; actions get the ones they list under secrets:)",
	}
	withStore := func(fn func(st *secret.Store, args []string) error) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			dir, err := a.resolveDataDir()
			if err != nil {
				return err
			}
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return err
			}
			st, err := secret.Open(dir, a.getenv("VELOCITY_SECRET_KEY"))
			if err != nil {
				return err
			}
			return fn(st, args)
		}
	}
	set := &cobra.Command{
		Use:   "set NAME",
		Short: "Set a secret from standard input (never from the command line, where it would be seen)",
		Args:  cobra.ExactArgs(1),
		RunE: withStore(func(st *secret.Store, args []string) error {
			if f, ok := a.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
				fmt.Fprintf(a.stderr, "value of %s (input hidden, end with Enter): ", args[0])
				v, err := term.ReadPassword(int(f.Fd()))
				fmt.Fprintln(a.stderr)
				if err != nil {
					return err
				}
				return a.setSecret(st, args[0], v)
			}
			v, err := io.ReadAll(io.LimitReader(a.stdin, 1<<20))
			if err != nil {
				return err
			}
			// A trailing newline from `echo` or a file is not part of the value.
			v = bytes.TrimSuffix(v, []byte("\n"))
			v = bytes.TrimSuffix(v, []byte("\r"))
			return a.setSecret(st, args[0], v)
		}),
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List secret names (never values)",
		Args:  cobra.NoArgs,
		RunE: withStore(func(st *secret.Store, _ []string) error {
			names, err := st.List()
			if err != nil {
				return err
			}
			for _, n := range names {
				fmt.Fprintln(a.stdout, n)
			}
			return nil
		}),
	}
	rm := &cobra.Command{
		Use:   "rm NAME",
		Short: "Remove a secret",
		Args:  cobra.ExactArgs(1),
		RunE: withStore(func(st *secret.Store, args []string) error {
			if err := st.Remove(args[0]); err != nil {
				if errors.Is(err, secret.ErrNotFound) {
					return usageError("no secret named %s (see 'velocity secret list')", args[0])
				}
				return err
			}
			return nil
		}),
	}
	cmd.AddCommand(set, list, rm)
	return cmd
}

func (a *app) setSecret(st *secret.Store, name string, v []byte) error {
	if bytes.IndexByte(v, 0) >= 0 {
		return usageError("the value of %s contains a NUL byte, which an environment variable cannot hold", name)
	}
	if err := st.Set(name, v); err != nil {
		if errors.Is(err, secret.ErrWrongKey) {
			return err
		}
		return usageError("%v", err)
	}
	fmt.Fprintf(a.stderr, "secret %s set (%d bytes)\n", name, len(v))
	return nil
}
