package web

import (
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/velocity-ci/velocity/internal/access"
	"github.com/velocity-ci/velocity/internal/fault"
	"github.com/velocity-ci/velocity/internal/runs"
	"github.com/velocity-ci/velocity/internal/store"
)

// runRoutes registers the routes of this file's pages.
func (s *Site) runRoutes(mux *http.ServeMux) {
	if s.Runs == nil {
		return
	}
	mux.HandleFunc("GET /runs/{id}", s.runPage)
	mux.HandleFunc("GET /runs/{id}/live", s.live)
	mux.HandleFunc("GET /runs/{id}/logs/{stage}/{action}", s.runLog)
	mux.HandleFunc("GET /runs/{id}/artifacts/{stage}/{action}/{path...}", s.artifact)
	mux.HandleFunc("POST /runs/{id}/approve", s.action(access.Developer, s.approve))
	mux.HandleFunc("POST /runs/{id}/cancel", s.action(access.Developer, s.cancel))
	mux.HandleFunc("POST /runs/{id}/rerun-failed", s.action(access.Developer, s.rerunFailed))
}

// runPageData is the data of templates/run.html.
type runPageData struct {
	Run      store.Run
	Duration string
	Graph    graph
	Logs     []actionLog
	// Waiting lists the stages that wait for approval.
	Waiting   []string
	Approvals []store.Approval
	Artifacts []artifactLink
	// Live is the address of the run's live stream while it is not
	// final; Known says which approvals the page shows ("stage=status
	// …"), so that live.js reloads it when one comes or is decided.
	Live, Known string
	// Query is the search of the logs (?q=).
	Query               string
	CanCancel, CanRerun bool
}

type artifactLink struct {
	Stage, Action, Path, URL string
	Size                     int64
}

func (s *Site) runID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, fault.NotFoundf("%q is not a run number", r.PathValue("id"))
	}
	return id, nil
}

func (s *Site) runPage(w http.ResponseWriter, r *http.Request) {
	id, err := s.runID(r)
	if err != nil {
		s.failWith(w, r, err)
		return
	}
	d, err := s.Runs.Show(r.Context(), id)
	if err != nil {
		s.failWith(w, r, err)
		return
	}
	data, err := s.runData(r, d)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, "run", fmt.Sprintf("Run %d · %s", d.Run.ID, d.Run.Project), "dashboard", data)
}

// runData gathers what the run page shows of d.
func (s *Site) runData(r *http.Request, d runs.Details) (runPageData, error) {
	now := time.Now()
	p := runPageData{Run: d.Run, Duration: runDuration(d.Run, now), Graph: layout(d.Actions, now),
		Approvals: d.Approvals, Query: r.URL.Query().Get("q")}
	var counts, known []string
	for _, a := range d.Actions {
		l, err := readActionLog(a, d.Attempts, p.Query)
		if err != nil {
			return p, err
		}
		p.Logs = append(p.Logs, l)
		counts = append(counts, strconv.Itoa(l.Lines))
	}
	for _, ap := range d.Approvals {
		known = append(known, ap.Stage+"="+string(ap.Status))
		if ap.Status == store.ApprovalPending {
			p.Waiting = append(p.Waiting, ap.Stage)
		}
	}
	final := d.Run.Status.Final()
	if !final {
		p.Live = fmt.Sprintf("/runs/%d/live?lines=%s", d.Run.ID, strings.Join(counts, ","))
		p.Known = strings.Join(known, " ")
	}
	p.CanCancel = !final
	p.CanRerun = final && !d.Run.Status.OK()
	arts, err := s.artifacts(r, d.Run.ID)
	p.Artifacts = arts
	return p, err
}

// runDuration is how long run has taken: until it finished, or so far.
func runDuration(run store.Run, now time.Time) string {
	if run.Finished.IsZero() {
		return short(now.Sub(run.Created))
	}
	return short(run.Finished.Sub(run.Created))
}

// artifacts lists the regular files the run's actions produced; folders
// and symlinks are part of an output but nothing to download alone.
func (s *Site) artifacts(r *http.Request, id int64) ([]artifactLink, error) {
	outs, err := s.Runs.Outputs(r.Context(), id, nil)
	if err != nil {
		return nil, err
	}
	var out []artifactLink
	for _, o := range outs {
		if o.Link != "" || !fs.FileMode(o.Mode).IsRegular() {
			continue
		}
		out = append(out, artifactLink{Stage: o.Stage, Action: o.Action, Path: o.Path, Size: o.Size,
			URL: fmt.Sprintf("/runs/%d/artifacts/%s/%s/%s", id, url.PathEscape(o.Stage), url.PathEscape(o.Action), escapePath(o.Path))})
	}
	return out, nil
}

// escapePath escapes each segment of a slash-separated path.
func escapePath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}

// runLog is the download of an action's whole log, as text.
func (s *Site) runLog(w http.ResponseWriter, r *http.Request) {
	id, err := s.runID(r)
	if err != nil {
		s.failWith(w, r, err)
		return
	}
	d, err := s.Runs.Show(r.Context(), id)
	if err != nil {
		s.failWith(w, r, err)
		return
	}
	k := store.Key{Stage: r.PathValue("stage"), Name: r.PathValue("action")}
	if !hasAction(d.Actions, k) {
		s.failWith(w, r, fault.NotFoundf("run %d has no action %s/%s", id, k.Stage, k.Name))
		return
	}
	// Plain text, never sniffed as a page: a log is what programs wrote.
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Disposition", fmt.Sprintf("inline; filename=\"run-%d-%s-%s.log\"", id, k.Stage, k.Name))
	if err := copyLogs(w, k, d.Attempts); err != nil {
		s.log().Error("web: sending a log", "run", id, "action", k.Stage+"/"+k.Name, "err", err)
	}
}

func hasAction(actions []store.Action, k store.Key) bool {
	for _, a := range actions {
		if a.Key() == k {
			return true
		}
	}
	return false
}

// artifact sends one output file of an action, extracted from the blob
// store (verified against its digest) into a scratch folder.
func (s *Site) artifact(w http.ResponseWriter, r *http.Request) {
	id, err := s.runID(r)
	if err != nil {
		s.failWith(w, r, err)
		return
	}
	k := store.Key{Stage: r.PathValue("stage"), Name: r.PathValue("action")}
	outs, err := s.Runs.Outputs(r.Context(), id, &k)
	if err != nil {
		s.failWith(w, r, err)
		return
	}
	want := r.PathValue("path")
	for _, o := range outs {
		if o.Path == want && o.Link == "" && fs.FileMode(o.Mode).IsRegular() {
			s.sendOutput(w, r, id, o)
			return
		}
	}
	s.failWith(w, r, fault.NotFoundf("run %d: %s/%s produced no file %s", id, k.Stage, k.Name, want))
}

func (s *Site) sendOutput(w http.ResponseWriter, r *http.Request, id int64, o store.Output) {
	dir, err := os.MkdirTemp("", "velocity-artifact-")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer os.RemoveAll(dir)
	if _, err := s.Runs.Extract(r.Context(), []store.Output{o}, dir); err != nil {
		s.failWith(w, r, fmt.Errorf("run %d: %s: %w", id, o.Path, err))
		return
	}
	f, err := os.Open(filepath.Join(dir, filepath.FromSlash(o.Path)))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", path.Base(o.Path)))
	http.ServeContent(w, r, "", time.Time{}, f)
}

// by names who decided, for the journal: the token, and that it was
// through the web UI.
func (s *Site) by(r *http.Request) string {
	u, _ := s.user(r)
	return u.Name + " (web)"
}

func (s *Site) approve(w http.ResponseWriter, r *http.Request) {
	id, err := s.runID(r)
	if err != nil {
		s.failWith(w, r, err)
		return
	}
	approved := r.PostFormValue("decision") == "approve"
	if !approved && r.PostFormValue("decision") != "reject" {
		s.failWith(w, r, fault.Invalidf("decision %q: approve or reject", r.PostFormValue("decision")))
		return
	}
	if _, err := s.Runs.Approve(r.Context(), id, r.PostFormValue("stage"), approved, s.by(r)); err != nil {
		s.failWith(w, r, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/runs/%d", id), http.StatusSeeOther)
}

func (s *Site) cancel(w http.ResponseWriter, r *http.Request) {
	id, err := s.runID(r)
	if err != nil {
		s.failWith(w, r, err)
		return
	}
	if err := s.Runs.Cancel(r.Context(), id, false); err != nil {
		s.failWith(w, r, err)
		return
	}
	s.log().Info("run cancelled from the web", "run", id, "by", s.by(r))
	http.Redirect(w, r, fmt.Sprintf("/runs/%d", id), http.StatusSeeOther)
}

// rerunFailed runs a finished run again, keeping what succeeded then,
// as 'velocity rerun --failed' does.
func (s *Site) rerunFailed(w http.ResponseWriter, r *http.Request) {
	id, err := s.runID(r)
	if err != nil {
		s.failWith(w, r, err)
		return
	}
	started, err := s.Runs.Start(r.Context(), runs.StartRequest{Rerun: id, Failed: true, Jobs: runtime.NumCPU(),
		Trigger: fmt.Sprintf("rerun of failed actions of run %d by %s", id, s.by(r))})
	if err != nil {
		s.failWith(w, r, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/runs/%d", started), http.StatusSeeOther)
}
