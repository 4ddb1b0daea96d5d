package dora_test

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/dora"
	"github.com/velocity-ci/velocity/internal/fault"
	"github.com/velocity-ci/velocity/internal/store"
	"github.com/velocity-ci/velocity/internal/store/sqlite"
)

// at is a time of March 2026, UTC.
func at(dayOfMonth, hour, minute int) time.Time {
	return time.Date(2026, 3, dayOfMonth, hour, minute, 0, 0, time.UTC)
}

// journal writes runs and deploys the way the runs and releases
// services do, into a real SQLite journal.
type journal struct {
	t *testing.T
	s *sqlite.Store
}

func newJournal(t *testing.T) journal {
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "velocity.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return journal{t, s}
}

func (j journal) run(project, commit string, committed time.Time) int64 {
	j.t.Helper()
	id, err := j.s.CreateRun(context.Background(), store.Run{
		Project: project, Commit: commit, CommitTime: committed, Status: store.Succeeded, Created: committed.Add(time.Minute),
	}, nil)
	if err != nil {
		j.t.Fatal(err)
	}
	return id
}

// deploy records a deploy of run's release started at created and
// carried out as the releases service does: live at done (replacing the
// live one), or failed at done when failed.
func (j journal) deploy(env, service string, run int64, created, done time.Time, rollback, failed bool) {
	j.t.Helper()
	ctx := context.Background()
	r, err := j.s.Run(ctx, run)
	if err != nil {
		j.t.Fatal(err)
	}
	id, err := j.s.CreateDeployment(ctx, store.Deployment{
		Environment: env, Service: service, Release: "r" + string(rune('0'+run)), RunID: run, Commit: r.Commit,
		Status: store.Deploying, Rollback: rollback, Created: created,
	})
	if err != nil {
		j.t.Fatal(err)
	}
	switch {
	case failed:
		err = j.s.SetDeploymentStatus(ctx, id, store.DeployFailed, "health check failed", done)
	case rollback:
		err = j.s.SetLive(ctx, id, store.RolledBack, done)
	default:
		err = j.s.SetLive(ctx, id, store.Superseded, done)
	}
	if err != nil {
		j.t.Fatal(err)
	}
}

func (j journal) service(now time.Time) *dora.Service {
	return &dora.Service{Runs: j.s, Deployments: j.s, Projects: j.s, Now: func() time.Time { return now }}
}

const (
	rollback, failed = true, true
)

// shop's history in production: a deploy before the window, one going
// live at the window's first instant, a failed health gate restored by
// the next deploy, a change rolled back, and today's deploy; plus a
// staging deploy and another project's deploys that must not count.
func shopJournal(t *testing.T) journal {
	j := newJournal(t)
	r1 := j.run("shop", "c1", at(20, 10, 0))
	j.deploy("production", "web", r1, at(20, 12, 0), at(20, 12, 1), false, false)
	r2 := j.run("shop", "c2", at(24, 22, 0))
	j.deploy("production", "web", r2, at(24, 23, 58), at(25, 0, 0), false, false)
	r3 := j.run("shop", "c3", at(26, 9, 0))
	j.deploy("production", "web", r3, at(26, 11, 0), at(26, 11, 3), false, failed)
	r4 := j.run("shop", "c4", at(26, 11, 30))
	j.deploy("production", "web", r4, at(26, 12, 0), at(26, 12, 10), false, false)
	r5 := j.run("shop", "c5", at(28, 9, 0))
	j.deploy("staging", "web", r5, at(28, 9, 30), at(28, 9, 35), false, false)
	j.deploy("production", "web", r5, at(28, 10, 0), at(28, 10, 5), false, false)
	j.deploy("production", "web", r4, at(28, 10, 30), at(28, 10, 35), rollback, false)
	r7 := j.run("shop", "c7", at(30, 20, 0))
	j.deploy("production", "web", r7, at(31, 9, 0), at(31, 9, 4), false, false)

	// blog (no git: no commit times) went live twice; a rollback of the
	// second failed and nothing has restored it since.
	b1 := j.run("blog", "", time.Time{})
	j.deploy("production", "blog", b1, at(29, 10, 0), at(29, 10, 1), false, false)
	b2 := j.run("blog", "", time.Time{})
	j.deploy("production", "blog", b2, at(30, 10, 0), at(30, 10, 1), false, false)
	j.deploy("production", "blog", b1, at(30, 11, 0), at(30, 11, 2), rollback, failed)

	j.run("docs", "d1", at(1, 0, 0))
	return j
}

var now = at(31, 12, 0)

func TestKeysOverAWeek(t *testing.T) {
	j := shopJournal(t)
	rep, err := j.service(now).Keys(context.Background(), dora.Request{Project: "shop", Days: 7})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.From.Equal(at(25, 0, 0)) || !rep.To.Equal(time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)) || rep.Environment != "production" {
		t.Errorf("window %v to %v in %s, want the 7 days to April 1st in production", rep.From, rep.To, rep.Environment)
	}
	// Four changes went live in the window (the rollback is not one;
	// the deploy live at the window's first instant is).
	if f := rep.Frequency; f.Deploys != 4 || f.PerDay != 4.0/7 || f.Band != dora.High {
		t.Errorf("deployment frequency %+v, want 4 deploys, 4/7 a day, high", f)
	}
	// Lead times: c2 2h, c4 40m, c5 1h05m, c7 13h04m; c3 never went
	// live, c1 before the window.
	wantLeads := []time.Duration{2 * time.Hour, 40 * time.Minute, 65 * time.Minute, 13*time.Hour + 4*time.Minute}
	var leads []time.Duration
	for _, c := range rep.LeadTime.Changes {
		leads = append(leads, c.Lead)
	}
	if !reflect.DeepEqual(leads, wantLeads) {
		t.Errorf("lead times %v, want %v", leads, wantLeads)
	}
	if lt := rep.LeadTime; lt.Median != 92*time.Minute+30*time.Second || lt.Band != dora.Elite {
		t.Errorf("lead time median %v %s, want 1h32m30s (between 1h05m and 2h) elite", lt.Median, lt.Band)
	}
	var counts []int
	for _, b := range rep.LeadTime.Buckets {
		counts = append(counts, b.Count)
	}
	if !reflect.DeepEqual(counts, []int{1, 3, 0, 0, 0}) {
		t.Errorf("lead time distribution %v, want one under an hour and three under a day", counts)
	}
	// The failed health gate and the change rolled back, of five.
	if cf := rep.FailureRate; cf.Changes != 5 || cf.Failures != 2 || cf.Rate != 0.4 || cf.Band != dora.Low {
		t.Errorf("change failure rate %+v, want 2 of 5, low", cf)
	}
	// 11:03 (failed) to 12:10 (next live): 67m; 10:05 (rolled back
	// change live) to 10:35 (rollback live): 30m.
	rs := rep.Restore
	if rs.Restored != 2 || len(rs.Recoveries) != 2 || rs.Recoveries[0].Took != 67*time.Minute || rs.Recoveries[1].Took != 30*time.Minute {
		t.Errorf("recoveries %+v, want 67m and 30m", rs.Recoveries)
	}
	if rs.Median != 48*time.Minute+30*time.Second || rs.Band != dora.Elite {
		t.Errorf("time to restore median %v %s, want 48m30s elite", rs.Median, rs.Band)
	}
	want := map[int]dora.Day{
		0: {Deploys: 1, Changes: 1},
		1: {Deploys: 1, Changes: 2, Failures: 1},
		3: {Deploys: 1, Changes: 1, Failures: 1},
		6: {Deploys: 1, Changes: 1},
	}
	if len(rep.Series) != 7 {
		t.Fatalf("%d days in the series, want 7", len(rep.Series))
	}
	for i, d := range rep.Series {
		w := want[i]
		w.Date = at(25+i, 0, 0)
		if d != w {
			t.Errorf("day %d: %+v, want %+v", i, d, w)
		}
	}
}

// The month reaches the first deploy, whose going live the journal no
// longer knows: its start stands for it.
func TestKeysOverAMonth(t *testing.T) {
	j := shopJournal(t)
	rep, err := j.service(now).Keys(context.Background(), dora.Request{Project: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Days != 30 || len(rep.Series) != 30 {
		t.Errorf("default window %d days, %d in series, want 30", rep.Days, len(rep.Series))
	}
	if f := rep.Frequency; f.Deploys != 5 || f.Band != dora.High {
		t.Errorf("deployment frequency %+v, want 5 deploys, high", f)
	}
	if lt := rep.LeadTime; len(lt.Changes) != 5 || lt.Changes[0].Lead != 2*time.Hour || lt.Median != 2*time.Hour {
		t.Errorf("lead time %+v, want 5 changes, c1's 2h first, median 2h", lt)
	}
	if cf := rep.FailureRate; cf.Changes != 6 || cf.Failures != 2 {
		t.Errorf("change failure rate %+v, want 2 of 6", cf)
	}
}

// A rollback that failed still marks the change it follows as failed;
// with nothing live since, the service is not restored.
func TestUnrestoredFailure(t *testing.T) {
	j := shopJournal(t)
	rep, err := j.service(now).Keys(context.Background(), dora.Request{Project: "blog", Days: 7})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Frequency.Deploys != 2 || rep.FailureRate.Changes != 2 || rep.FailureRate.Failures != 1 || rep.FailureRate.Band != dora.Low {
		t.Errorf("blog: %+v %+v, want 2 deploys, 1 of 2 failed", rep.Frequency, rep.FailureRate)
	}
	rs := rep.Restore
	if len(rs.Recoveries) != 1 || !rs.Recoveries[0].Failed.Equal(at(30, 10, 1)) || !rs.Recoveries[0].Restored.IsZero() ||
		rs.Restored != 0 || rs.Band != "" {
		t.Errorf("blog restore %+v, want one failure since 10:01 not restored, no band", rs)
	}
	if len(rep.LeadTime.Changes) != 0 || rep.LeadTime.Band != "" {
		t.Errorf("blog has no commit times, yet lead time %+v", rep.LeadTime)
	}
}

func TestNoDeploys(t *testing.T) {
	j := shopJournal(t)
	rep, err := j.service(now).Keys(context.Background(), dora.Request{Project: "docs", Days: 90})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Frequency.Deploys != 0 || rep.Frequency.PerDay != 0 || rep.Frequency.Band != dora.Low ||
		rep.LeadTime.Band != "" || rep.FailureRate.Band != "" || rep.FailureRate.Rate != 0 || rep.Restore.Band != "" || len(rep.Series) != 90 {
		t.Errorf("a project without deploys: %+v", rep)
	}
	// Another environment counts its own deploys only.
	rep, err = j.service(now).Keys(context.Background(), dora.Request{Project: "shop", Days: 7, Environment: "staging"})
	if err != nil || rep.Frequency.Deploys != 1 || rep.FailureRate.Failures != 0 {
		t.Errorf("shop in staging: %+v, %v", rep.Frequency, err)
	}
}

func TestWindowEnd(t *testing.T) {
	j := shopJournal(t)
	// Just before midnight on the 24th, c2's deploy (live at 00:00 on
	// the 25th) is tomorrow's: the 7 days end before it.
	rep, err := j.service(at(24, 23, 59)).Keys(context.Background(), dora.Request{Project: "shop", Days: 7})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Frequency.Deploys != 1 || !rep.To.Equal(at(25, 0, 0)) {
		t.Errorf("on the 24th: %d deploys to %v, want c1's only", rep.Frequency.Deploys, rep.To)
	}
}

func TestRequestErrors(t *testing.T) {
	svc := shopJournal(t).service(now)
	if _, err := svc.Keys(context.Background(), dora.Request{Project: "nope"}); !errors.Is(err, fault.NotFound) {
		t.Errorf("unknown project: %v, want not found", err)
	}
	if _, err := svc.Keys(context.Background(), dora.Request{Project: "shop", Days: -1}); !errors.Is(err, fault.Invalid) {
		t.Errorf("negative window: %v, want invalid", err)
	}
}

func TestOverview(t *testing.T) {
	j := shopJournal(t)
	reps, err := j.service(now).Overview(context.Background(), dora.Request{Days: 30})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range reps {
		names = append(names, r.Project)
	}
	if !reflect.DeepEqual(names, []string{"blog", "shop"}) || reps[1].Frequency.Deploys != 5 {
		t.Errorf("overview %v (shop %+v), want blog and shop", names, reps[1].Frequency)
	}
}

func TestBands(t *testing.T) {
	for _, c := range []struct {
		got, want dora.Band
	}{
		{dora.FrequencyBand(1), dora.Elite}, {dora.FrequencyBand(1.0 / 7), dora.High},
		{dora.FrequencyBand(1.0 / 30), dora.Medium}, {dora.FrequencyBand(1.0 / 31), dora.Low},
		{dora.LeadTimeBand(23 * time.Hour), dora.Elite}, {dora.LeadTimeBand(24 * time.Hour), dora.High},
		{dora.LeadTimeBand(7 * 24 * time.Hour), dora.Medium}, {dora.LeadTimeBand(30 * 24 * time.Hour), dora.Low},
		{dora.FailureRateBand(0.05), dora.Elite}, {dora.FailureRateBand(0.1), dora.High},
		{dora.FailureRateBand(0.15), dora.Medium}, {dora.FailureRateBand(0.16), dora.Low},
		{dora.RestoreBand(59 * time.Minute), dora.Elite}, {dora.RestoreBand(time.Hour), dora.High},
		{dora.RestoreBand(24 * time.Hour), dora.Medium}, {dora.RestoreBand(7 * 24 * time.Hour), dora.Low},
	} {
		if c.got != c.want {
			t.Errorf("band %s, want %s", c.got, c.want)
		}
	}
}
