package cli

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/velocity-ci/velocity/internal/home"
	"github.com/velocity-ci/velocity/internal/server"
	"github.com/velocity-ci/velocity/internal/store"
)

// terminalInput returns stdin when it is a terminal, for the prompt.
func (a *app) terminalInput() io.Reader {
	if f, ok := a.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return f
	}
	return nil
}

func (a *app) approveCmd() *cobra.Command {
	var stage string
	var reject bool
	cmd := &cobra.Command{
		Use:   "approve RUN",
		Short: "Approve (or --reject) a stage of a run that waits for manual approval",
		Args:  cobra.ExactArgs(1),
		RunE: a.orRemote(a.withHome(func(ctx context.Context, h *home.Home, args []string) error {
			svc := h.RunsReader()
			run, err := svc.Find(ctx, args[0])
			if err != nil {
				return a.runsError(err, nil)
			}
			decided, err := svc.Approve(ctx, run.ID, stage, !reject, a.approver())
			if err != nil {
				return a.runsError(err, nil)
			}
			a.printDecision(run.ID, decided, reject)
			return nil
		}), func(ctx context.Context, c *server.Client, args []string) error {
			run, err := a.remoteRun(ctx, c, args[0])
			if err != nil {
				return err
			}
			decided, err := c.ApproveRun(ctx, run.ID, stage, !reject, a.approver())
			if err != nil {
				return err
			}
			a.printDecision(run.ID, decided, reject)
			return nil
		}),
	}
	cmd.Flags().StringVar(&stage, "stage", "", "the stage to decide, when several wait")
	cmd.Flags().BoolVar(&reject, "reject", false, "reject instead of approve: the run fails at that stage")
	return cmd
}

// approver is who decides an approval from this command line.
func (a *app) approver() string {
	by := "velocity approve"
	if u := a.getenv("USER"); u != "" {
		by += " (" + u + ")"
	}
	return by
}

func (a *app) printDecision(run int64, stage string, reject bool) {
	status := store.Approved
	if reject {
		status = store.Rejected
	}
	fmt.Fprintf(a.stdout, "stage %s of run %d %s\n", stage, run, status)
}
