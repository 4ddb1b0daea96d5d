package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/velocity-ci/velocity/internal/fault"
	"github.com/velocity-ci/velocity/internal/store"
)

// otherRuns is how many recent runs of no project (velocity run
// --server) the dashboard lists.
const otherRuns = 20

// dashboardRoutes registers the routes of this file's pages.
func (s *Site) dashboardRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", s.dashboard)
	mux.HandleFunc("GET /badge/{file}", s.badge)
}

// dashboardData is the data of templates/dashboard.html.
type dashboardData struct {
	Projects []projectRow
	// Others are recent runs that are no project's: started on the
	// server by 'velocity run --server', or of a project since removed.
	Others []runRow
}

type projectRow struct {
	Name, Repo, Branch string
	// Branches holds the last run of each branch, the project's own
	// branch first.
	Branches []runRow
}

// runRow is a run as a table row shows it.
type runRow struct {
	store.Run
	Duration string
}

func (s *Site) dashboard(w http.ResponseWriter, r *http.Request) {
	var d dashboardData
	names := map[string]bool{}
	if s.Projects != nil {
		rows, err := s.projectRows(r.Context())
		if err != nil {
			s.fail(w, r, err)
			return
		}
		d.Projects = rows
		for _, p := range rows {
			names[p.Name] = true
		}
	}
	if s.Runs != nil {
		recent, err := s.Runs.List(r.Context(), store.RunFilter{Limit: 100})
		if err != nil {
			s.fail(w, r, err)
			return
		}
		for _, run := range recent {
			if !names[run.Project] && len(d.Others) < otherRuns {
				d.Others = append(d.Others, row(run, time.Now()))
			}
		}
	}
	s.render(w, r, "dashboard", "Projects", "dashboard", d)
}

func (s *Site) projectRows(ctx context.Context) ([]projectRow, error) {
	list, err := s.Projects.List(ctx)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	rows := make([]projectRow, 0, len(list))
	for _, p := range list {
		d, err := s.Projects.Show(ctx, p.Name)
		if err != nil {
			return nil, fmt.Errorf("project %s: %w", p.Name, err)
		}
		pr := projectRow{Name: p.Name, Repo: p.Repo, Branch: p.Branch}
		for _, run := range lastPerBranch(d.Runs, p.Branch) {
			pr.Branches = append(pr.Branches, row(run, now))
		}
		rows = append(rows, pr)
	}
	return rows, nil
}

// lastPerBranch keeps the newest of runs (newest first) on each branch,
// with branch's first.
func lastPerBranch(runs []store.Run, branch string) []store.Run {
	var out []store.Run
	seen := map[string]bool{}
	for _, run := range runs {
		if seen[run.Branch] {
			continue
		}
		seen[run.Branch] = true
		if run.Branch == branch {
			out = append([]store.Run{run}, out...)
		} else {
			out = append(out, run)
		}
	}
	return out
}

func row(run store.Run, now time.Time) runRow {
	return runRow{Run: run, Duration: runDuration(run, now)}
}

// badge is a shields-style SVG of the state of a project's last run on
// its branch, for a README: public, as READMEs are, and never cached,
// so that it follows the branch.
func (s *Site) badge(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutSuffix(r.PathValue("file"), ".svg")
	code, state := http.StatusOK, "unknown"
	switch {
	case !ok || s.Projects == nil:
		code = http.StatusNotFound
	default:
		var err error
		state, err = s.badgeState(r.Context(), name)
		// An unknown project looks like one without runs: a badge
		// needs no session, and must not tell strangers which
		// projects exist.
		if err != nil && !errors.Is(err, fault.NotFound) {
			s.fail(w, r, err)
			return
		}
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(code)
	if err := badgeSVG(w, state); err != nil {
		s.log().Error("web: writing a badge", "project", name, "err", err)
	}
}

// badgeState is passing, failing, running or unknown for the last run of
// project name on its branch.
func (s *Site) badgeState(ctx context.Context, name string) (string, error) {
	d, err := s.Projects.Show(ctx, name)
	if err != nil {
		return "unknown", err
	}
	for _, run := range d.Runs {
		if run.Branch != d.Branch {
			continue
		}
		switch run.Status {
		case store.Succeeded, store.Cached:
			return "passing", nil
		case store.Failed, store.Interrupted:
			return "failing", nil
		case store.Running, store.Pending:
			return "running", nil
		}
		return "unknown", nil
	}
	return "unknown", nil
}
