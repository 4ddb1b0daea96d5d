package web

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/velocity-ci/velocity/internal/access"
	"github.com/velocity-ci/velocity/internal/releases"
	"github.com/velocity-ci/velocity/internal/server"
	"github.com/velocity-ci/velocity/internal/store"
)

// deployRoutes serves /deployments (what serves in each environment,
// its instances and release history) and the rollback button of each
// service.
func (s *Site) deployRoutes(mux *http.ServeMux) {
	if s.Releases == nil && s.Catalog == nil {
		return
	}
	mux.HandleFunc("GET /deployments", s.deployments)
	mux.Handle("POST /deployments/{env}/{service}/rollback", s.action(access.Developer, s.rollback))
}

// deploymentsPage is what templates/deploys.html shows.
type deploymentsPage struct {
	// Host is what serves (velocity serve's version, its proxy); Hosted
	// is false when no process hosts the data directory's services.
	Host         releases.Status
	Hosted       bool
	Environments []environmentView
	// Done says what the last rollback did; Problem why it failed.
	Done    string
	Problem string
	// Operate shows the rollback buttons (see canOperate).
	Operate bool
}

type environmentView struct {
	Name     string
	Services []serviceView
}

type serviceView struct {
	Environment, Name string
	// Release is the live release; empty when none serves.
	Release   string
	URL       string
	Warm      []string
	Instances []instanceView
	Healthy   int
	// Live is the journal's entry of Release, for its commit and run.
	Live *releaseView
	// History is the journal, newest first; Targets the releases a
	// rollback may name (those that served before).
	History []releaseView
	Targets []string
	// HistoryError says why the journal could not be read.
	HistoryError string
	// Traffic is the last minute through the proxy; nil when the host
	// is not this process (its proxy's numbers are not at hand).
	Traffic *releases.TrafficStats
}

// instanceView is one instance of the live release, as the host's
// status says.
type instanceView struct {
	ID, Addr, State, Health string
	Pid, Restarts           int
}

// releaseView is one deployment with who started the run that made it.
type releaseView struct {
	releases.Release
	// By is the run's trigger ("push by alice"); empty when unknown.
	By   string
	Live bool
}

func (s *Site) deployments(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var done string
	if env, svc, rel := q.Get("env"), q.Get("service"), q.Get("release"); env != "" && svc != "" && rel != "" {
		done = fmt.Sprintf("Rolled back %s in %s: release %s serves.", svc, env, rel)
	}
	s.renderDeployments(w, r, http.StatusOK, done, "")
}

// renderDeployments renders the page with code, and a message.
func (s *Site) renderDeployments(w http.ResponseWriter, r *http.Request, code int, done, problem string) {
	page, err := s.deploymentsPage(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	page.Done, page.Problem, page.Operate = done, problem, s.canOperate(r)
	s.renderStatus(w, r, code, "deploys", "Deployments", "deployments", page)
}

// deploymentsPage gathers what serves, by environment and service, with
// each service's release history.
func (s *Site) deploymentsPage(ctx context.Context) (deploymentsPage, error) {
	var page deploymentsPage
	switch {
	case s.Releases != nil:
		page.Host, page.Hosted = s.Releases.Status(), true
	case s.Catalog != nil:
		page.Host, page.Hosted = s.Catalog.Serving(ctx)
	}
	statuses := slices.Clone(page.Host.Services)
	slices.SortFunc(statuses, func(a, b releases.ServiceStatus) int {
		return cmp.Or(cmp.Compare(a.Environment, b.Environment), cmp.Compare(a.Service, b.Service))
	})
	runs := map[int64]string{}
	var traffic map[string]releases.TrafficStats
	if s.Releases != nil {
		traffic = s.Releases.Traffic()
	}
	for _, st := range statuses {
		sv := s.serviceView(ctx, st, runs)
		if t, ok := traffic[st.Environment+"/"+st.Service]; ok {
			sv.Traffic = &t
		} else if traffic != nil {
			sv.Traffic = &releases.TrafficStats{}
		}
		if n := len(page.Environments); n == 0 || page.Environments[n-1].Name != st.Environment {
			page.Environments = append(page.Environments, environmentView{Name: st.Environment})
		}
		env := &page.Environments[len(page.Environments)-1]
		env.Services = append(env.Services, sv)
	}
	return page, nil
}

// serviceView is one service's row: its status, and its history from
// the journal (a journal that cannot be read leaves the row with a note,
// not the whole page broken). runs caches the triggers of runs by ID.
func (s *Site) serviceView(ctx context.Context, st releases.ServiceStatus, runs map[int64]string) serviceView {
	sv := serviceView{Environment: st.Environment, Name: st.Service, Release: st.Release, URL: st.URL,
		Warm: st.Warm}
	for _, in := range st.Instances {
		sv.Instances = append(sv.Instances, instanceView{ID: in.ID, Addr: in.Addr, State: in.State, Health: in.Health,
			Pid: in.Pid, Restarts: in.Restarts})
		if in.Health == "healthy" {
			sv.Healthy++
		}
	}
	history, err := s.releaseHistory(ctx, st.Environment, st.Service)
	if err != nil {
		s.log().Warn("release history", "environment", st.Environment, "service", st.Service, "err", err)
		sv.HistoryError = "the release history could not be read; the server's log has the details"
		return sv
	}
	seen := map[string]bool{st.Release: true}
	for _, rel := range history {
		v := releaseView{Release: rel, By: s.runTrigger(ctx, rel.RunID, runs), Live: rel.Status == store.Live}
		sv.History = append(sv.History, v)
		if v.Live && rel.Release == st.Release && sv.Live == nil {
			sv.Live = &sv.History[len(sv.History)-1]
		}
		// Only a release that served may be put back (Rollback's rule).
		if (rel.Status == store.Superseded || rel.Status == store.RolledBack) && !seen[rel.Release] {
			seen[rel.Release] = true
			sv.Targets = append(sv.Targets, rel.Release)
		}
	}
	return sv
}

func (s *Site) releaseHistory(ctx context.Context, env, service string) ([]releases.Release, error) {
	if s.Releases != nil {
		return s.Releases.Releases(ctx, env, service)
	}
	return s.Catalog.Releases(ctx, env, service)
}

// runTrigger says who started run id, as its trigger records; "" when
// the run is gone or was started from the command line.
func (s *Site) runTrigger(ctx context.Context, id int64, cache map[int64]string) string {
	if by, ok := cache[id]; ok {
		return by
	}
	var by string
	switch {
	case s.Catalog != nil && s.Catalog.Runs != nil:
		if run, err := s.Catalog.Runs.Run(ctx, id); err == nil {
			by = run.Trigger
		}
	case s.Runs != nil:
		if d, err := s.Runs.Show(ctx, id); err == nil {
			by = d.Run.Trigger
		}
	}
	cache[id] = by
	return by
}

// rollback puts an earlier release of a service back: the one named by
// the form's to, or the one before the live release.
func (s *Site) rollback(w http.ResponseWriter, r *http.Request) {
	env, service := r.PathValue("env"), r.PathValue("service")
	if s.Releases == nil {
		s.renderDeployments(w, r, http.StatusServiceUnavailable, "",
			"Rollbacks need the server that hosts the services; this one does not host them.")
		return
	}
	req := releases.RollbackRequest{Environment: env, Service: service, To: strings.TrimSpace(r.FormValue("to"))}
	// A rollback half done because the browser went away would leave
	// the service between releases: it runs to its end regardless.
	ctx := context.WithoutCancel(r.Context())
	var log strings.Builder
	start := time.Now()
	res, err := s.Releases.Rollback(ctx, req, &log)
	s.log().Info("rollback from the web UI", "environment", env, "service", service, "to", req.To,
		"took", time.Since(start), "err", err, "log", log.String())
	if err != nil {
		code := server.StatusOf(err)
		msg := err.Error()
		if code == http.StatusInternalServerError {
			s.log().Error("rollback", "environment", env, "service", service, "err", err)
			msg = "the rollback failed; the server's log has the details"
		}
		s.renderDeployments(w, r, code, "", fmt.Sprintf("Rollback of %s in %s: %s", service, env, msg))
		return
	}
	q := url.Values{"env": {env}, "service": {service}, "release": {res.Release}}
	http.Redirect(w, r, "/deployments?"+q.Encode()+"#"+serviceAnchor(env, service), http.StatusSeeOther)
}

// serviceAnchor is the id of a service's row.
func serviceAnchor(env, service string) string { return "service-" + env + "-" + service }

// canOperate reports whether the page shows the buttons of the
// developer role. Without a session user (the UI served without
// sessions) they show, and the POST's own role check decides.
func (s *Site) canOperate(r *http.Request) bool {
	u, ok := s.user(r)
	return !ok || access.Allow(u.Role, access.Developer)
}
