package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/velocity-ci/velocity/internal/store"
)

// approver holds a stage until its approval is decided in the journal:
// by `velocity approve` from anywhere, by --approve, or at the prompt of
// the run's own terminal.
type approver struct {
	store  store.Store
	auto   bool
	say    func(format string, args ...any)
	prompt io.Reader // nil when stdin is not a terminal
}

// Approve implements engine.Approver.
func (p *approver) Approve(ctx context.Context, runID int64, stage string) (bool, error) {
	jctx := context.WithoutCancel(ctx)
	if err := p.store.RequestApproval(jctx, runID, stage, time.Now()); err != nil {
		return false, err
	}
	if p.auto {
		p.say("velocity: stage %s approved by --approve\n", stage)
		return true, p.decide(jctx, runID, stage, store.Approved, "--approve")
	}
	p.say("velocity: stage %s waits for approval: run 'velocity approve %d' (or 'velocity approve %d --reject')\n", stage, runID, runID)
	answers := make(chan bool, 1)
	if p.prompt != nil {
		p.say("velocity: or answer here: approve stage %s? [y/N] ", stage)
		go func() {
			line, _ := bufio.NewReader(p.prompt).ReadString('\n')
			answers <- strings.HasPrefix(strings.ToLower(strings.TrimSpace(line)), "y")
		}()
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case yes := <-answers:
			status := store.Rejected
			if yes {
				status = store.Approved
			}
			// Someone may have decided elsewhere meanwhile; the journal wins.
			if err := p.decide(jctx, runID, stage, status, "terminal"); err != nil && !errors.Is(err, store.ErrNotFound) {
				return false, err
			}
		case <-tick.C:
		}
		as, err := p.store.Approvals(jctx, runID)
		if err != nil {
			return false, err
		}
		for _, a := range as {
			if a.Stage == stage && a.Status != store.ApprovalPending {
				p.say("velocity: stage %s %s by %s\n", stage, a.Status, a.By)
				return a.Status == store.Approved, nil
			}
		}
	}
}

func (p *approver) decide(ctx context.Context, runID int64, stage string, st store.ApprovalStatus, by string) error {
	return p.store.Decide(ctx, store.Approval{RunID: runID, Stage: stage, Status: st, By: by, At: time.Now()})
}

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
		RunE: a.withHome(func(ctx context.Context, h *home, args []string) error {
			run, err := a.runArg(ctx, h, args[0])
			if err != nil {
				return err
			}
			as, err := h.store.Approvals(ctx, run.ID)
			if err != nil {
				return err
			}
			var pending []string
			for _, ap := range as {
				if ap.Status == store.ApprovalPending && (stage == "" || ap.Stage == stage) {
					pending = append(pending, ap.Stage)
				}
			}
			switch {
			case len(pending) == 0 && stage != "":
				return usageError("stage %s of run %d is not waiting for approval", stage, run.ID)
			case len(pending) == 0:
				return usageError("run %d has no stage waiting for approval", run.ID)
			case len(pending) > 1:
				return usageError("several stages of run %d wait: name one with --stage (%s)", run.ID, strings.Join(pending, ", "))
			}
			status := store.Approved
			if reject {
				status = store.Rejected
			}
			by := "velocity approve"
			if u := a.getenv("USER"); u != "" {
				by += " (" + u + ")"
			}
			if err := h.store.Decide(ctx, store.Approval{RunID: run.ID, Stage: pending[0], Status: status, By: by, At: time.Now()}); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "stage %s of run %d %s\n", pending[0], run.ID, status)
			return nil
		}),
	}
	cmd.Flags().StringVar(&stage, "stage", "", "the stage to decide, when several wait")
	cmd.Flags().BoolVar(&reject, "reject", false, "reject instead of approve: the run fails at that stage")
	return cmd
}
