package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/fault"
	"github.com/velocity-ci/velocity/internal/store"
)

// RunScheduleFires runs the schedule fires' suite; open returns an empty
// store for each subtest.
func RunScheduleFires(t *testing.T, open func(t *testing.T) store.ScheduleFires) {
	t.Run("FireTakenOnce", func(t *testing.T) { testFireTakenOnce(t, open(t)) })
	t.Run("PerProjectAndSchedule", func(t *testing.T) { testFirePerSchedule(t, open(t)) })
	t.Run("ForgetProject", func(t *testing.T) { testFireForget(t, open(t)) })
	t.Run("ConcurrentRecordOneTaken", func(t *testing.T) { testFireConcurrent(t, open(t)) })
	t.Run("EmptyIsInvalid", func(t *testing.T) { testFireEmpty(t, open(t)) })
}

// fireT0 is a due time as schedules have them: a whole minute.
var fireT0 = time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)

func fire(t *testing.T, s store.ScheduleFires, project, schedule string, due time.Time) bool {
	t.Helper()
	taken, err := s.RecordFire(ctx, project, schedule, due)
	if err != nil {
		t.Fatalf("record fire of %s/%s due %v: %v", project, schedule, due, err)
	}
	return taken
}

func wantLastFire(t *testing.T, s store.ScheduleFires, project, schedule string, want time.Time) {
	t.Helper()
	got, ok, err := s.LastFire(ctx, project, schedule)
	if err != nil {
		t.Fatalf("last fire of %s/%s: %v", project, schedule, err)
	}
	switch {
	case want.IsZero() && ok:
		t.Errorf("last fire of %s/%s is %v, want none", project, schedule, got)
	case !want.IsZero() && !ok:
		t.Errorf("%s/%s has no last fire, want %v", project, schedule, want)
	case !got.Equal(want):
		t.Errorf("last fire of %s/%s is %v, want %v", project, schedule, got, want)
	}
}

// A due time fires once: the same due time again, or an earlier one (a
// process whose clock lags, or one back from downtime computing a missed
// fire another already ran), is not taken; a later one is.
func testFireTakenOnce(t *testing.T, s store.ScheduleFires) {
	wantLastFire(t, s, "web", "nightly", time.Time{})
	if !fire(t, s, "web", "nightly", fireT0) {
		t.Fatal("first fire of a schedule not taken")
	}
	wantLastFire(t, s, "web", "nightly", fireT0)
	if fire(t, s, "web", "nightly", fireT0) {
		t.Error("the same due time was taken twice")
	}
	if fire(t, s, "web", "nightly", fireT0.Add(-24*time.Hour)) {
		t.Error("a due time before the last fire was taken")
	}
	wantLastFire(t, s, "web", "nightly", fireT0)
	next := fireT0.Add(24 * time.Hour)
	if !fire(t, s, "web", "nightly", next) {
		t.Error("the next due time was not taken")
	}
	wantLastFire(t, s, "web", "nightly", next)
}

func testFirePerSchedule(t *testing.T, s store.ScheduleFires) {
	if !fire(t, s, "web", "nightly", fireT0) || !fire(t, s, "web", "hourly", fireT0) || !fire(t, s, "api", "nightly", fireT0) {
		t.Fatal("one due time of different schedules must be taken for each")
	}
	later := fireT0.Add(time.Hour)
	if !fire(t, s, "web", "hourly", later) {
		t.Fatal("next hourly fire not taken")
	}
	wantLastFire(t, s, "web", "nightly", fireT0)
	wantLastFire(t, s, "web", "hourly", later)
	wantLastFire(t, s, "api", "nightly", fireT0)
	wantLastFire(t, s, "api", "hourly", time.Time{})
}

// A removed project's fires are forgotten: added again, its schedules
// start afresh instead of catching up from the old project's last fire.
func testFireForget(t *testing.T, s store.ScheduleFires) {
	fire(t, s, "web", "nightly", fireT0)
	fire(t, s, "web", "hourly", fireT0)
	fire(t, s, "api", "nightly", fireT0)
	if err := s.ForgetFires(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	wantLastFire(t, s, "web", "nightly", time.Time{})
	wantLastFire(t, s, "web", "hourly", time.Time{})
	wantLastFire(t, s, "api", "nightly", fireT0)
	if err := s.ForgetFires(ctx, "never-had-any"); err != nil {
		t.Errorf("forget fires of a project without any: %v", err)
	}
	if !fire(t, s, "web", "nightly", fireT0.Add(-time.Hour)) {
		t.Error("after forgetting, an earlier due time must be taken")
	}
}

// Servers sharing one store all wake at a due time: exactly one may
// start the run. Others racing with later due times leave the latest.
func testFireConcurrent(t *testing.T, s store.ScheduleFires) {
	const n = 8
	var wg sync.WaitGroup
	taken := make(chan time.Time, 3*n)
	errs := make(chan error, 3*n)
	for i := range 3 * n {
		due := fireT0
		if i >= n {
			// Two more groups, one on a later and one on an earlier due
			// time, racing with the first.
			due = fireT0.Add(time.Duration(i/n*2-3) * time.Hour)
		}
		wg.Go(func() {
			ok, err := s.RecordFire(ctx, "web", "nightly", due)
			if err != nil {
				errs <- err
				return
			}
			if ok {
				taken <- due
			}
		})
	}
	wg.Wait()
	close(errs)
	close(taken)
	for err := range errs {
		t.Fatal(err)
	}
	counts := map[time.Time]int{}
	for due := range taken {
		counts[due]++
	}
	latest := fireT0.Add(time.Hour)
	for due, c := range counts {
		if c != 1 {
			t.Errorf("due %v taken %d times, want at most once", due, c)
		}
	}
	if counts[latest] != 1 {
		t.Errorf("the latest due time was taken %d times, want once", counts[latest])
	}
	wantLastFire(t, s, "web", "nightly", latest)
}

func testFireEmpty(t *testing.T, s store.ScheduleFires) {
	for _, c := range []struct {
		project, schedule string
		due               time.Time
	}{{"", "nightly", fireT0}, {"web", "", fireT0}, {"web", "nightly", time.Time{}}} {
		if _, err := s.RecordFire(ctx, c.project, c.schedule, c.due); !errors.Is(err, fault.Invalid) {
			t.Errorf("record fire %+v: %v, want an Invalid error", c, err)
		}
	}
}
