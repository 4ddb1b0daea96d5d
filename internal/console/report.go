package console

import (
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/velocity-ci/velocity/internal/plan"
	"github.com/velocity-ci/velocity/internal/store"
)

// ReportOptions configure Report.
type ReportOptions struct {
	// Color keeps the terminal colours of the status icons.
	Color bool
	// Needs shows each action's needs (the graph), as `velocity show` does.
	Needs bool
	// Approvals are the run's approval decisions, so that a stage's wait
	// for one does not count as its actions waiting for a CPU.
	Approvals []store.Approval
}

var ansi = regexp.MustCompile("\x1b\\[[0-9;]*[A-Za-z]")

// Report writes a run's summary: its actions by stage with status and
// duration, and the critical path (see store.CriticalPath).
func Report(w io.Writer, run store.Run, actions []store.Action, opt ReportOptions) {
	p := func(format string, args ...any) {
		s := fmt.Sprintf(format, args...)
		if !opt.Color {
			s = ansi.ReplaceAllString(s, "")
		}
		io.WriteString(w, s)
	}
	took := ""
	if !run.Finished.IsZero() {
		took = " in " + duration(run.Finished.Sub(run.Created))
	}
	p("%s run %d of %s %s%s\n", icon(run.Status), run.ID, run.Project, run.Status, took)
	if where := describeSource(run); where != "" {
		p("  %s\n", where)
	}
	if run.Selection.Partial() {
		// The actions below are all the run took; the rest of the
		// pipeline was not part of it.
		p("  partial run: %s\n", plan.Describe(run.Selection.Only, run.Selection.Skip))
	}
	if run.Reason != "" && run.Status != store.Succeeded {
		p("  %s\n", run.Reason)
	}
	nameWidth := 0
	for _, a := range actions {
		nameWidth = max(nameWidth, len(a.Name)+len(kindPrefix(a.Kind)))
	}
	stage := ""
	for _, a := range actions {
		if a.Kind == store.KindOnFailure && a.Status == store.Skipped {
			continue
		}
		if a.Stage != stage {
			stage = a.Stage
			p("  %s\n", stage)
		}
		d := ""
		if !a.Started.IsZero() && !a.Finished.IsZero() {
			d = duration(a.Finished.Sub(a.Started))
		} else if !a.Started.IsZero() && a.Status == store.Running {
			d = duration(time.Since(a.Started)) + "…"
		}
		line := fmt.Sprintf("    %s %-*s %7s", icon(a.Status), nameWidth, kindPrefix(a.Kind)+a.Name, d)
		var notes []string
		if opt.Needs && len(a.Needs) > 0 {
			notes = append(notes, "needs "+strings.Join(a.Needs, ", "))
		}
		if a.Attempts > 1 {
			notes = append(notes, fmt.Sprintf("%d attempts", a.Attempts))
		}
		switch {
		case a.Status == store.Failed && a.AllowFailure:
			notes = append(notes, "failed (allowed): "+a.Reason)
		case a.Status != store.Succeeded && a.Reason != "":
			notes = append(notes, string(a.Status)+": "+a.Reason)
		case a.Status != store.Succeeded:
			notes = append(notes, string(a.Status))
		}
		if len(notes) > 0 {
			line += "  " + strings.Join(notes, "; ")
		}
		p("%s\n", strings.TrimRight(line, " "))
	}
	if line := criticalPath(actions, opt.Approvals); line != "" {
		p("  %s\n", line)
	}
}

// shownWait is the shortest wait for a slot worth a word: below it, the
// gap between a need's end and its dependent's start is the journal's
// own bookkeeping.
const shownWait = 100 * time.Millisecond

// criticalPath describes the run's critical path, or nothing when fewer
// than two actions ran (one action is trivially its own).
func criticalPath(actions []store.Action, approvals []store.Approval) string {
	ran := 0
	for _, a := range actions {
		if !a.Started.IsZero() && !a.Finished.IsZero() {
			ran++
		}
	}
	if ran < 2 {
		return ""
	}
	path := store.FindCriticalPath(actions, approvals)
	var parts []string
	for _, s := range path {
		part := fmt.Sprintf("%s/%s %s", s.Action.Stage, s.Action.Name, duration(s.Ran))
		if s.Queued >= shownWait {
			part += fmt.Sprintf(" (waited %s for a CPU)", duration(s.Queued))
		}
		parts = append(parts, part)
	}
	total := duration(path.Ran())
	if q := path.Queued(); q >= shownWait {
		total += fmt.Sprintf(" + %s waiting for a CPU", duration(q))
	}
	return fmt.Sprintf("critical path (%s): %s", total, strings.Join(parts, " → "))
}

func kindPrefix(k store.Kind) string {
	switch k {
	case store.KindFinally:
		return "finally:"
	case store.KindOnFailure:
		return "on_failure:"
	}
	return ""
}

func describeSource(run store.Run) string {
	var parts []string
	if run.Commit != "" {
		c := run.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		parts = append(parts, "commit "+c)
	}
	if run.Branch != "" {
		parts = append(parts, "on "+run.Branch)
	}
	if run.Dirty {
		parts = append(parts, "with uncommitted changes")
	}
	return strings.Join(parts, " ")
}
