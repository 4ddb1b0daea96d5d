package runs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"sort"

	"github.com/velocity-ci/velocity/internal/plan"
	"github.com/velocity-ci/velocity/internal/store"
)

// replay rebuilds the stream of a run this process does not execute from
// the journal and the attempts' logs: what a watcher would have seen,
// without the messages (they are not journaled). The stream of a run
// still going on elsewhere ends with what is journaled so far.
func (s *Service) replay(ctx context.Context, id int64) (*feed, error) {
	return s.replayFrom(ctx, id, true)
}

// replayFrom is replay, with the actions' output from their logs or
// without it.
func (s *Service) replayFrom(ctx context.Context, id int64, logs bool) (*feed, error) {
	d, err := s.Show(ctx, id)
	if err != nil {
		return nil, err
	}
	var events []Event
	add := func(e Event) { events = append(events, e) }
	add(Event{Time: d.Run.Created, Kind: KindRunStarted, RunStarted: replayShape(d)})
	last := map[store.Key]int{}
	for _, at := range d.Attempts {
		last[store.Key{Stage: at.Stage, Name: at.Action}] = max(last[store.Key{Stage: at.Stage, Name: at.Action}], at.N)
	}
	tried := map[store.Key]bool{}
	for _, at := range d.Attempts {
		k := store.Key{Stage: at.Stage, Name: at.Action}
		tried[k] = true
		replayAttempt(add, at, at.N == last[k] && at.Status.Final(), logs)
	}
	for _, a := range d.Actions {
		if !tried[a.Key()] && a.Status.Final() {
			add(Event{Time: a.Finished, Kind: KindActionSkipped, ActionSkipped: &ActionSkipped{Action: a.Stage + "/" + a.Name, Status: a.Status, Reason: a.Reason}})
		}
	}
	for _, ap := range d.Approvals {
		add(Event{Time: ap.At, Kind: KindApprovalWaiting, ApprovalWaiting: &ApprovalWaiting{Stage: ap.Stage}})
		if ap.Status != store.ApprovalPending {
			add(Event{Time: ap.At, Kind: KindApprovalDecided, ApprovalDecided: &ApprovalDecided{Stage: ap.Stage, Status: ap.Status, By: ap.By}})
		}
	}
	// The journal keeps no order across tables; time is the order.
	sort.SliceStable(events, func(i, j int) bool { return events[i].Time.Before(events[j].Time) })
	if d.Run.Status.Final() {
		add(Event{Time: d.Run.Finished, Kind: KindRunFinished, RunFinished: &RunFinished{Status: d.Run.Status, Reason: d.Run.Reason}})
	}
	f := newFeed(id, s.cfg.History)
	for _, e := range events {
		f.emit(e)
	}
	f.close()
	return f, nil
}

func replayShape(d Details) *RunStarted {
	e := &RunStarted{Project: d.Run.Project, Commit: d.Run.Commit, Branch: d.Run.Branch, Dirty: d.Run.Dirty, Workspace: d.Run.Workspace, Trigger: d.Run.Trigger}
	for _, a := range d.Actions {
		if len(e.Stages) == 0 || e.Stages[len(e.Stages)-1].Index != a.StageIndex {
			e.Stages = append(e.Stages, Stage{Index: a.StageIndex, Name: a.Stage})
		}
		st := &e.Stages[len(e.Stages)-1]
		st.Actions = append(st.Actions, Action{ID: a.Stage + "/" + a.Name, Name: a.Name, Kind: kindOf(a.Kind),
			Needs: a.Needs, Attempts: max(a.Attempts, 1), AllowFailure: a.AllowFailure})
	}
	if sel := d.Run.Selection; sel.Partial() {
		e.Selection = &Selection{Only: sel.Only, Skip: sel.Skip, Description: plan.Describe(sel.Only, sel.Skip), Selected: len(d.Actions)}
	}
	return e
}

func kindOf(k store.Kind) string {
	if k == "" {
		return "action"
	}
	return string(k)
}

// replayAttempt adds an attempt's start, the lines of its log and, when
// it ended, its end. The lines all carry the attempt's start time: the
// log does not time them.
func replayAttempt(add func(Event), at store.Attempt, final, logs bool) {
	id := at.Stage + "/" + at.Action
	add(Event{Time: at.Started, Kind: KindAttemptStarted, AttemptStarted: &AttemptStarted{Action: id, Attempt: at.N}})
	if !logs {
		if !at.Finished.IsZero() {
			add(Event{Time: at.Finished, Kind: KindAttemptFinished, AttemptFinished: &AttemptFinished{Action: id, Attempt: at.N,
				Status: at.Status, ExitCode: at.ExitCode, Reason: at.Reason, Started: at.Started, Finished: at.Finished, Final: final}})
		}
		return
	}
	f, err := os.Open(at.Log)
	if errors.Is(err, os.ErrNotExist) && at.Log != "" {
		// Logs stay on the node that executed the attempt; the journal,
		// which every node shares, says where.
		add(Event{Time: at.Started, Kind: KindMessage, Message: &Message{Action: id, Level: "warning",
			Text: fmt.Sprintf("the log of %s attempt %d is not on this node: it is %s on the node that executed the attempt", id, at.N, at.Log)}})
	}
	if err == nil {
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64*1024), maxLine)
		for sc.Scan() {
			add(Event{Time: at.Started, Kind: KindOutput, Output: &Output{Action: id, Attempt: at.N, Stream: "combined", Text: sc.Text()}})
		}
		f.Close()
	}
	if !at.Finished.IsZero() {
		add(Event{Time: at.Finished, Kind: KindAttemptFinished, AttemptFinished: &AttemptFinished{Action: id, Attempt: at.N,
			Status: at.Status, ExitCode: at.ExitCode, Reason: at.Reason, Started: at.Started, Finished: at.Finished, Final: final}})
	}
}
