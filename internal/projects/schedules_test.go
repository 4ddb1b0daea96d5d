package projects

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/runs"
	"github.com/velocity-ci/velocity/internal/trigger"
)

// scheduledRepo is a repository whose velocity.yml runs at 03:00 Berlin
// time every day.
func (f *fixture) scheduledRepo() string {
	dir := filepath.Join(f.t.TempDir(), "repo")
	os.MkdirAll(dir, 0o755)
	yml := `schedules:
  - { name: nightly, cron: "0 3 * * *", timezone: Europe/Berlin }
stages:
  - name: build
    actions:
      - { name: hello, run: "echo nightly" }
`
	if err := os.WriteFile(filepath.Join(dir, "velocity.yml"), []byte(yml), 0o644); err != nil {
		f.t.Fatal(err)
	}
	git(f.t, dir, "init", "-q")
	git(f.t, dir, "add", "-A")
	git(f.t, dir, "commit", "-q", "-m", "pipeline")
	return dir
}

// scheduler fires the service's schedules on clock, until the test ends.
func (f *fixture) scheduler(svc *Service, clock trigger.Clock) {
	s := &trigger.Scheduler{
		Clock: clock, Fires: f.store,
		List: func(ctx context.Context) ([]trigger.Entry, error) {
			e, _, err := svc.Schedules(ctx)
			return e, err
		},
		Fire: svc.Fire,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	f.t.Cleanup(func() { cancel(); <-done })
}

// TestScheduleFiresARunOfTheBranchHead: the schedule in the project's
// velocity.yml starts a run at its time, recorded as the schedule's; a
// server that was down at the next time runs it once when it is back,
// saying it was missed.
func TestScheduleFiresARunOfTheBranchHead(t *testing.T) {
	f := newFixture(t)
	repo := f.scheduledRepo()
	head := git(t, repo, "rev-parse", "HEAD")
	f.add(AddRequest{Name: "nightly", Repo: repo})
	entries, problems, err := f.svc.Schedules(context.Background())
	if err != nil || len(problems) != 0 || len(entries) != 1 || entries[0].Branch != "main" || entries[0].Name != "nightly" {
		t.Fatalf("Schedules: %+v %v %v", entries, problems, err)
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	clock := trigger.NewFakeClock(time.Date(2026, 12, 7, 2, 59, 0, 0, berlin))
	f.start(f.svc)
	f.scheduler(f.svc, clock)
	if err := clock.BlockUntil(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Minute)
	runs := f.finished("nightly", 1)
	if runs[0].Commit != head || runs[0].Trigger != "schedule nightly" || !runs[0].Status.OK() {
		t.Fatalf("the scheduled run: %+v", runs[0])
	}

	// Down from the 7th at 03:01 until the 9th at 12:00: the fires of the
	// 8th and the 9th were missed; one run, for the latest.
	later := f.service()
	f.start(later)
	clock2 := trigger.NewFakeClock(time.Date(2026, 12, 9, 12, 0, 0, 0, berlin))
	f.scheduler(later, clock2)
	runs = f.finished("nightly", 2)
	if got, want := runs[1].Trigger, "missed schedule nightly (due 2026-12-09 03:00 CET)"; got != want {
		t.Errorf("the missed run's trigger is %q, want %q", got, want)
	}
	// Nothing more fires until the next time.
	if err := clock2.BlockUntil(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if n := len(f.requests("nightly")); n != 2 {
		t.Errorf("%d requests after the catch-up, want 2", n)
	}
}

// TestAddFollowsTheRepositorysOnlyBranch: without --branch, a project
// whose repository has no main follows its only branch.
func TestAddFollowsTheRepositorysOnlyBranch(t *testing.T) {
	f := newFixture(t)
	repo := f.scheduledRepo()
	git(t, repo, "branch", "-m", "main", "trunk")
	if p := f.add(AddRequest{Name: "trunk", Repo: repo}); p.Branch != "trunk" || p.Head != git(t, repo, "rev-parse", "HEAD") {
		t.Errorf("project: %+v", p)
	}
	if p := f.add(AddRequest{Name: "pushed"}); p.Branch != "main" || p.Head != "" {
		t.Errorf("push-only project: %+v", p)
	}
}

// TestQueuedWaitsForARunStartedOutsideTheQueue: a run of the project
// that this process executes but the queue did not start (one resumed
// after a crash) is the one run at a time of a queued project.
func TestQueuedWaitsForARunStartedOutsideTheQueue(t *testing.T) {
	f := newFixture(t)
	repo := f.repo()
	f.add(AddRequest{Name: "shop", Repo: repo})
	ctx := context.Background()
	resumed := f.commit(repo)
	if err := f.svc.cfg.Mirrors.Fetch(ctx, "shop"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.runs.Start(ctx, runs.StartRequest{Dir: f.svc.cfg.Mirrors.Path("shop"), Commit: resumed, Project: "shop", Jobs: 1, NoServe: true}); err != nil {
		t.Fatal(err)
	}
	f.waitFor("the resumed run to start", func() bool { return len(f.traced()) == 1 && f.traced()[0] != "" })
	queued := f.commit(repo)
	if _, err := f.svc.Trigger(ctx, "shop", TriggerRequest{Ref: queued}); err != nil {
		t.Fatal(err)
	}
	f.start(f.svc)
	f.open()
	f.finished("shop", 2)
	want := []string{"start " + resumed, "end " + resumed, "start " + queued, "end " + queued}
	if got := f.traced(); !slices.Equal(got, want) {
		t.Fatalf("trace:\n%s\nwant the queued run after the resumed one:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
