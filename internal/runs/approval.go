package runs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/velocity-ci/velocity/internal/store"
)

// approver holds a stage until its approval is decided in the journal:
// by Approve from any process (velocity approve, the run's own terminal),
// or at once with StartRequest.Approve.
type approver struct {
	store store.Store
	auto  bool
	feed  *feed
}

// pollApproval is how often a waiting stage reads the journal for a
// decision another process may have written.
const pollApproval = 200 * time.Millisecond

// Approve implements engine.Approver.
func (p *approver) Approve(ctx context.Context, runID int64, stage string) (bool, error) {
	jctx := context.WithoutCancel(ctx)
	if err := p.store.RequestApproval(jctx, runID, stage, time.Now()); err != nil {
		return false, err
	}
	if p.auto {
		p.feed.emit(Event{Kind: KindApprovalDecided, ApprovalDecided: &ApprovalDecided{Stage: stage, Status: store.Approved, By: "--approve"}})
		return true, p.store.Decide(jctx, store.Approval{RunID: runID, Stage: stage, Status: store.Approved, By: "--approve", At: time.Now()})
	}
	p.feed.emit(Event{Kind: KindApprovalWaiting, ApprovalWaiting: &ApprovalWaiting{Stage: stage}})
	tick := time.NewTicker(pollApproval)
	defer tick.Stop()
	for {
		as, err := p.store.Approvals(jctx, runID)
		if err != nil {
			return false, err
		}
		for _, a := range as {
			if a.Stage == stage && a.Status != store.ApprovalPending {
				p.feed.emit(Event{Kind: KindApprovalDecided, ApprovalDecided: &ApprovalDecided{Stage: stage, Status: a.Status, By: a.By}})
				return a.Status == store.Approved, nil
			}
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-tick.C:
		}
	}
}

// Approve decides the approval of a stage of run id that waits for one;
// stage "" names the only stage that waits. It returns the stage decided.
// The run, in whichever process executes it, goes on within a moment.
// Errors: ErrInvalid when no stage (or several, or not that one) waits.
func (s *Service) Approve(ctx context.Context, id int64, stage string, approved bool, by string) (string, error) {
	as, err := s.cfg.Store.Approvals(ctx, id)
	if err != nil {
		return "", err
	}
	var pending []string
	for _, ap := range as {
		if ap.Status == store.ApprovalPending && (stage == "" || ap.Stage == stage) {
			pending = append(pending, ap.Stage)
		}
	}
	switch {
	case len(pending) == 0 && stage != "":
		return "", invalidf("stage %s of run %d is not waiting for approval", stage, id)
	case len(pending) == 0:
		return "", invalidf("run %d has no stage waiting for approval", id)
	case len(pending) > 1:
		return "", invalidf("several stages of run %d wait: name one with --stage (%s)", id, strings.Join(pending, ", "))
	}
	status := store.Rejected
	if approved {
		status = store.Approved
	}
	err = s.cfg.Store.Decide(ctx, store.Approval{RunID: id, Stage: pending[0], Status: status, By: by, At: time.Now()})
	if errors.Is(err, store.ErrNotFound) {
		// Decided elsewhere between the read and the write.
		return "", invalidf("stage %s of run %d is not waiting for approval", pending[0], id)
	}
	if err != nil {
		return "", fmt.Errorf("decide stage %s of run %d: %w", pending[0], id, err)
	}
	return pending[0], nil
}
