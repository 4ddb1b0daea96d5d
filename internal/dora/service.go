// Package dora computes the four keys of DORA (DevOps Research and
// Assessment) for a project from the journal: deployment frequency,
// lead time for changes, change failure rate and time to restore, with
// their performance bands and a series per day for charts. The
// definitions, exactly as computed, are in docs/dora.md.
package dora

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/velocity-ci/velocity/internal/fault"
	"github.com/velocity-ci/velocity/internal/store"
)

// DefaultEnvironment is the environment whose deploys count when a
// request names none.
const DefaultEnvironment = "production"

// MaxDays is the longest window.
const MaxDays = 366

// Runs is what the service reads of the journal's runs: a deployment's
// run names its project and its commit's time. Called from the request's
// goroutine; a missing run wraps store.ErrNotFound.
type Runs interface {
	Run(ctx context.Context, id int64) (store.Run, error)
	Runs(ctx context.Context, f store.RunFilter) ([]store.Run, error)
}

// Deployments is what the service reads of the deployment journal.
type Deployments interface {
	EnvironmentDeployments(ctx context.Context, environment string) ([]store.Deployment, error)
}

// Projects lists a team server's projects, so that the overview shows a
// project before its first deploy. Optional.
type Projects interface {
	Projects(ctx context.Context) ([]store.Project, error)
}

// Service computes the four keys. Set Runs and Deployments; the zero
// Now is time.Now.
type Service struct {
	Runs        Runs
	Deployments Deployments
	Projects    Projects
	Now         func() time.Time
}

// Request names what to compute.
type Request struct {
	Project string
	// Days is the window: the last Days calendar days (UTC), today
	// included. 0 means 30.
	Days int
	// Environment is where deploys count; "" means production.
	Environment string
}

// Report is the four keys of one project over one window.
type Report struct {
	Project     string `json:"project"`
	Environment string `json:"environment"`
	Days        int    `json:"days"`
	// From and To bound the window: From at a midnight UTC, To the
	// midnight after today, so that each day of Series is a whole one.
	From time.Time `json:"from"`
	To   time.Time `json:"to"`

	Frequency   Frequency   `json:"deployment_frequency"`
	LeadTime    LeadTime    `json:"lead_time"`
	FailureRate FailureRate `json:"change_failure_rate"`
	Restore     Restore     `json:"time_to_restore"`
	// Series has one entry per day of the window, oldest first.
	Series []Day `json:"series"`
}

// Frequency is how often changes went live in the environment.
type Frequency struct {
	// Deploys counts the deploys of a change (not rollbacks) that went
	// live in the window.
	Deploys int     `json:"deploys"`
	PerDay  float64 `json:"per_day"`
	Band    Band    `json:"band"`
}

// LeadTime is how long changes took from commit to the environment.
type LeadTime struct {
	// Changes are the commits that first went live in the window, in
	// the order they went live.
	Changes []Change      `json:"changes"`
	Median  time.Duration `json:"median"`
	// Buckets counts the changes by lead time: under an hour, a day, a
	// week, a month, and longer.
	Buckets []Bucket `json:"buckets"`
	Band    Band     `json:"band"`
}

// Change is one commit shipped.
type Change struct {
	Commit    string        `json:"commit"`
	Committed time.Time     `json:"committed"`
	Deployed  time.Time     `json:"deployed"`
	Lead      time.Duration `json:"lead"`
}

// Bucket is a count of changes whose lead time is below Under (and at
// least the previous bucket's); the last bucket has no bound (0).
type Bucket struct {
	Label string        `json:"label"`
	Under time.Duration `json:"under"`
	Count int           `json:"count"`
}

// FailureRate is the share of changes deployed that failed.
type FailureRate struct {
	// Changes counts the deploys of a change that went live or failed
	// in the window; Failures those of them that failed.
	Changes  int     `json:"changes"`
	Failures int     `json:"failures"`
	Rate     float64 `json:"rate"`
	Band     Band    `json:"band"`
}

// Restore is how long failures lasted.
type Restore struct {
	// Recoveries are the failures that began in the window, in order.
	Recoveries []Recovery    `json:"recoveries"`
	Restored   int           `json:"restored"`
	Median     time.Duration `json:"median"`
	Band       Band          `json:"band"`
}

// Recovery is one failed change and what restored the service.
type Recovery struct {
	Service string    `json:"service"`
	Release string    `json:"release"`
	Failed  time.Time `json:"failed"`
	// Restored is zero while the service has not been restored.
	Restored time.Time     `json:"restored"`
	Took     time.Duration `json:"took"`
}

// Day is one day of the window, for charts.
type Day struct {
	Date     time.Time `json:"date"`
	Deploys  int       `json:"deploys"`
	Changes  int       `json:"changes"`
	Failures int       `json:"failures"`
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

// Keys computes the four keys of req's project. A project without any
// run is an error wrapping fault.NotFound; a window out of range one
// wrapping fault.Invalid.
func (s *Service) Keys(ctx context.Context, req Request) (Report, error) {
	req, err := s.check(req)
	if err != nil {
		return Report{}, err
	}
	if req.Project == "" {
		return Report{}, fault.Invalidf("name a project")
	}
	known, err := s.known(ctx, req.Project)
	if err != nil {
		return Report{}, err
	}
	if !known {
		return Report{}, fault.NotFoundf("no project %s: it has no runs and is not a project of this server", req.Project)
	}
	ds, err := s.deploys(ctx, req.Environment)
	if err != nil {
		return Report{}, err
	}
	return s.report(req, ds[req.Project]), nil
}

// Overview computes the four keys of every project that has a run
// deployed to the environment or is a project of the server, ordered by
// name. Project in req is ignored.
func (s *Service) Overview(ctx context.Context, req Request) ([]Report, error) {
	req, err := s.check(req)
	if err != nil {
		return nil, err
	}
	ds, err := s.deploys(ctx, req.Environment)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(ds))
	for name := range ds {
		names = append(names, name)
	}
	if s.Projects != nil {
		ps, err := s.Projects.Projects(ctx)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			if _, ok := ds[p.Name]; !ok {
				names = append(names, p.Name)
			}
		}
	}
	sort.Strings(names)
	out := make([]Report, 0, len(names))
	for _, name := range names {
		r := req
		r.Project = name
		out = append(out, s.report(r, ds[name]))
	}
	return out, nil
}

func (s *Service) check(req Request) (Request, error) {
	if req.Days == 0 {
		req.Days = 30
	}
	if req.Days < 1 || req.Days > MaxDays {
		return req, fault.Invalidf("a window of %d days: give between 1 and %d", req.Days, MaxDays)
	}
	if req.Environment == "" {
		req.Environment = DefaultEnvironment
	}
	return req, nil
}

func (s *Service) known(ctx context.Context, project string) (bool, error) {
	rs, err := s.Runs.Runs(ctx, store.RunFilter{Project: project, Limit: 1})
	if err != nil {
		return false, err
	}
	if len(rs) > 0 {
		return true, nil
	}
	if s.Projects == nil {
		return false, nil
	}
	ps, err := s.Projects.Projects(ctx)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(ps, func(p store.Project) bool { return p.Name == project }), nil
}

// projectDeploy is a deploy with its run's commit time.
type projectDeploy struct {
	deploy
	committed time.Time
}

// deploys reads the environment's history and groups it by the project
// of each deployment's run. A deployment whose run is gone (the journal
// was pruned) counts for no project.
func (s *Service) deploys(ctx context.Context, env string) (map[string][]projectDeploy, error) {
	ds, err := s.Deployments.EnvironmentDeployments(ctx, env)
	if err != nil {
		return nil, fmt.Errorf("deployments to %s: %w", env, err)
	}
	runs := map[int64]store.Run{}
	out := map[string][]projectDeploy{}
	for _, d := range history(ds) {
		r, ok := runs[d.RunID]
		if !ok {
			r, err = s.Runs.Run(ctx, d.RunID)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			runs[d.RunID] = r
		}
		out[r.Project] = append(out[r.Project], projectDeploy{deploy: d, committed: r.CommitTime})
	}
	return out, nil
}

// leadBuckets are the bounds of LeadTime.Buckets, with no count yet.
func leadBuckets() []Bucket {
	return []Bucket{
		{Label: "< 1 hour", Under: time.Hour},
		{Label: "< 1 day", Under: day},
		{Label: "< 1 week", Under: week},
		{Label: "< 1 month", Under: month},
		{Label: "longer"},
	}
}

// report computes the keys over ds, one project's deploys oldest first.
func (s *Service) report(req Request, ds []projectDeploy) Report {
	now := s.now().UTC()
	to := time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, time.UTC)
	from := to.AddDate(0, 0, -req.Days)
	rep := Report{Project: req.Project, Environment: req.Environment, Days: req.Days, From: from, To: to}
	in := func(t time.Time) bool { return !t.IsZero() && !t.Before(from) && t.Before(to) }
	rep.Series = make([]Day, req.Days)
	for i := range rep.Series {
		rep.Series[i].Date = from.AddDate(0, 0, i)
	}
	dayOf := func(t time.Time) *Day { return &rep.Series[int(t.Sub(from)/day)] }

	shipped := map[string]bool{}
	var leads, restores []time.Duration
	rep.LeadTime.Buckets = leadBuckets()
	for _, d := range ds {
		if d.Rollback {
			continue
		}
		// A change's time is when it went live, or when its deploy
		// failed.
		at := d.live
		if d.Status == store.DeployFailed {
			at = d.Updated
		}
		if !d.live.IsZero() && in(d.live) {
			rep.Frequency.Deploys++
			dayOf(d.live).Deploys++
		}
		if (!d.live.IsZero() || d.Status == store.DeployFailed) && in(at) {
			rep.FailureRate.Changes++
			dayOf(at).Changes++
			if d.failed {
				rep.FailureRate.Failures++
				dayOf(at).Failures++
			}
		}
		if d.failed && in(d.failedAt) {
			rc := Recovery{Service: d.Service, Release: d.Release, Failed: d.failedAt, Restored: d.restored}
			if !d.restored.IsZero() {
				rc.Took = d.restored.Sub(d.failedAt)
				rep.Restore.Restored++
				restores = append(restores, rc.Took)
			}
			rep.Restore.Recoveries = append(rep.Restore.Recoveries, rc)
		}
		// Lead time counts each commit once, at the first deploy that
		// put it live: a redeploy of the same commit ships nothing new.
		if d.live.IsZero() || d.Commit == "" || shipped[d.Commit] {
			continue
		}
		shipped[d.Commit] = true
		if d.committed.IsZero() || !in(d.live) {
			continue
		}
		c := Change{Commit: d.Commit, Committed: d.committed, Deployed: d.live, Lead: max(d.live.Sub(d.committed), 0)}
		rep.LeadTime.Changes = append(rep.LeadTime.Changes, c)
		leads = append(leads, c.Lead)
		for i := range rep.LeadTime.Buckets {
			if b := rep.LeadTime.Buckets[i]; b.Under == 0 || c.Lead < b.Under {
				rep.LeadTime.Buckets[i].Count++
				break
			}
		}
	}
	rep.Frequency.PerDay = float64(rep.Frequency.Deploys) / float64(req.Days)
	rep.Frequency.Band = FrequencyBand(rep.Frequency.PerDay)
	// Deploys of several services go live in their own order: the lead
	// time changes are listed by when they went live.
	slices.SortStableFunc(rep.LeadTime.Changes, func(a, b Change) int { return a.Deployed.Compare(b.Deployed) })
	if len(leads) > 0 {
		rep.LeadTime.Median = median(leads)
		rep.LeadTime.Band = LeadTimeBand(rep.LeadTime.Median)
	}
	if rep.FailureRate.Changes > 0 {
		rep.FailureRate.Rate = float64(rep.FailureRate.Failures) / float64(rep.FailureRate.Changes)
		rep.FailureRate.Band = FailureRateBand(rep.FailureRate.Rate)
	}
	slices.SortStableFunc(rep.Restore.Recoveries, func(a, b Recovery) int { return a.Failed.Compare(b.Failed) })
	if len(restores) > 0 {
		rep.Restore.Median = median(restores)
		rep.Restore.Band = RestoreBand(rep.Restore.Median)
	}
	return rep
}

// median is the middle value, or the mean of the two middle ones.
func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
