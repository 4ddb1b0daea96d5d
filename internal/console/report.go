package console

import (
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/velocity-ci/velocity/internal/store"
)

// ReportOptions configure Report.
type ReportOptions struct {
	// Color keeps the terminal colours of the status icons.
	Color bool
	// Needs shows each action's needs (the graph), as `velocity show` does.
	Needs bool
}

var ansi = regexp.MustCompile("\x1b\\[[0-9;]*[A-Za-z]")

// Report writes a run's summary: its actions by stage with status and
// duration, and the critical path, the chain of actions that set the run's
// length.
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
	if path := CriticalPath(actions); len(path) > 1 {
		var parts []string
		for _, a := range path {
			parts = append(parts, fmt.Sprintf("%s/%s %s", a.Stage, a.Name, duration(a.Finished.Sub(a.Started))))
		}
		total := path[len(path)-1].Finished.Sub(path[0].Started)
		p("  critical path (%s): %s\n", duration(total), strings.Join(parts, " → "))
	}
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

// CriticalPath returns the chain of executed actions that determined the
// run's length: starting from the action that finished last, each step
// goes back to what it waited for — the need, or any action, that
// finished last before it started (a stage gate or a parallelism slot).
func CriticalPath(actions []store.Action) []store.Action {
	ran := make([]store.Action, 0, len(actions))
	for _, a := range actions {
		if !a.Started.IsZero() && !a.Finished.IsZero() {
			ran = append(ran, a)
		}
	}
	if len(ran) == 0 {
		return nil
	}
	last := ran[0]
	for _, a := range ran[1:] {
		if a.Finished.After(last.Finished) {
			last = a
		}
	}
	path := []store.Action{last}
	seen := map[store.Key]bool{last.Key(): true}
	for {
		cur := path[len(path)-1]
		var best *store.Action
		for i := range ran {
			a := &ran[i]
			if seen[a.Key()] || a.Finished.After(cur.Started) {
				continue
			}
			if best == nil || a.Finished.After(best.Finished) {
				best = a
			}
		}
		if best == nil {
			break
		}
		seen[best.Key()] = true
		path = append(path, *best)
	}
	for i, j := 0, len(path)-1; i < j; i, j = i+1, j-1 {
		path[i], path[j] = path[j], path[i]
	}
	return path
}
