package trigger_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/store/sqlite"
	"github.com/velocity-ci/velocity/internal/trigger"
)

// schedules is the list a test changes while the scheduler runs.
type schedules struct {
	mu      sync.Mutex
	entries []trigger.Entry
}

func (s *schedules) set(e ...trigger.Entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entries = e
}

func (s *schedules) list(context.Context) ([]trigger.Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.entries), nil
}

// fired records each Fire as "project/name MM-DD HH:MM" in UTC, with
// " missed" when the fire was late.
type fired struct {
	mu  sync.Mutex
	got []string
}

func (f *fired) fire(_ context.Context, e trigger.Entry, due time.Time, missed bool) error {
	s := fmt.Sprintf("%s/%s %s", e.Project, e.Name, due.UTC().Format("01-02 15:04"))
	if missed {
		s += " missed"
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, s)
	return nil
}

// take returns the fires so far and forgets them.
func (f *fired) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	got := f.got
	f.got = nil
	return got
}

func entry(t *testing.T, project, name, expr, tz string) trigger.Entry {
	return trigger.Entry{Project: project, Name: name, Cron: mustCron(t, expr, tz)}
}

func openStore(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "velocity.db")
	}
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func utc(s string) time.Time {
	v, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return v
}

// start runs s until the test ends; the returned stop cancels it and
// waits for Run to return.
func start(t *testing.T, s *trigger.Scheduler) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				err = errors.New("Run did not return after its context was cancelled")
			}
		})
		return err
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	})
	return stop
}

// asleep waits until n sleeps are pending on clock: the schedulers have
// done what the time asked of them and wait for the next.
func asleep(t *testing.T, clock *trigger.FakeClock, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := clock.BlockUntil(ctx, n); err != nil {
		t.Fatalf("waiting for %d sleeping schedulers (%d asleep): %v", n, clock.Waiting(), err)
	}
}

func wantFires(t *testing.T, f *fired, want ...string) {
	t.Helper()
	if got := f.take(); !slices.Equal(got, want) {
		t.Errorf("fires\n got %q\nwant %q", got, want)
	}
}

// Schedules in different zones fire at their times, each due time once,
// in order, and a fire at its time is not missed.
func TestSchedulerFiresAtTheirTimes(t *testing.T) {
	clock := trigger.NewFakeClock(utc("2026-12-07 00:30"))
	var list schedules
	list.set(
		entry(t, "web", "hourly", "0 * * * *", ""),
		entry(t, "api", "quarter", "*/15 * * * *", ""),
		// 03:00 in Berlin is 02:00 UTC in December.
		entry(t, "web", "nightly", "0 3 * * *", "Europe/Berlin"),
	)
	var f fired
	start(t, &trigger.Scheduler{Clock: clock, Fires: openStore(t, ""), List: list.list, Fire: f.fire})
	for range 24 {
		asleep(t, clock, 1)
		clock.Advance(5 * time.Minute)
	}
	asleep(t, clock, 1)
	wantFires(t, &f,
		"api/quarter 12-07 00:45",
		"api/quarter 12-07 01:00", "web/hourly 12-07 01:00",
		"api/quarter 12-07 01:15", "api/quarter 12-07 01:30", "api/quarter 12-07 01:45",
		"api/quarter 12-07 02:00", "web/hourly 12-07 02:00", "web/nightly 12-07 02:00",
		"api/quarter 12-07 02:15", "api/quarter 12-07 02:30",
	)
}

// Refresh lists the schedules again: a new one fires at its next time, a
// removed one no more, and a changed one from its new expression without
// firing for a time already past.
func TestSchedulerRefresh(t *testing.T) {
	clock := trigger.NewFakeClock(utc("2026-12-07 00:30"))
	var list schedules
	list.set(entry(t, "web", "hourly", "0 * * * *", ""))
	var f fired
	s := &trigger.Scheduler{Clock: clock, Fires: openStore(t, ""), List: list.list, Fire: f.fire}
	start(t, s)
	asleep(t, clock, 1)

	list.set(entry(t, "web", "hourly", "0 * * * *", ""), entry(t, "api", "quarter", "*/15 * * * *", ""))
	s.Refresh()
	// The sleep from before the refresh is left behind, and a new one
	// begins.
	asleep(t, clock, 2)
	clock.Set(utc("2026-12-07 00:45"))
	asleep(t, clock, 1)
	wantFires(t, &f, "api/quarter 12-07 00:45")

	clock.Set(utc("2026-12-07 00:52"))
	asleep(t, clock, 1)
	// Every five minutes from now on; 00:50 is past and does not fire.
	list.set(entry(t, "api", "quarter", "*/5 * * * *", ""))
	s.Refresh()
	asleep(t, clock, 2)
	wantFires(t, &f)
	clock.Set(utc("2026-12-07 00:55"))
	asleep(t, clock, 1)
	clock.Set(utc("2026-12-07 01:00"))
	asleep(t, clock, 1)
	wantFires(t, &f, "api/quarter 12-07 00:55", "api/quarter 12-07 01:00")
}

// A scheduler that starts after downtime fires each schedule it missed
// once, for the latest due time, and says it was missed; a schedule that
// never fired before does not fire for the past.
func TestSchedulerMissedAfterDowntime(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, "")
	// The server last ran nightly four days ago, and hourly at 11:00.
	for _, r := range []struct {
		name string
		due  time.Time
	}{{"nightly", utc("2026-12-03 02:00")}, {"hourly", utc("2026-12-07 11:00")}} {
		if _, err := st.RecordFire(ctx, "web", r.name, r.due); err != nil {
			t.Fatal(err)
		}
	}
	clock := trigger.NewFakeClock(utc("2026-12-07 11:30"))
	var list schedules
	list.set(
		entry(t, "web", "nightly", "0 3 * * *", "Europe/Berlin"),
		entry(t, "web", "hourly", "0 * * * *", ""),
		entry(t, "web", "new", "*/10 * * * *", ""),
	)
	var f fired
	start(t, &trigger.Scheduler{Clock: clock, Fires: st, List: list.list, Fire: f.fire})
	asleep(t, clock, 1)
	wantFires(t, &f, "web/nightly 12-07 02:00 missed")
	last, ok, err := st.LastFire(ctx, "web", "nightly")
	if err != nil || !ok || !last.Equal(utc("2026-12-07 02:00")) {
		t.Errorf("last fire of nightly: %v %v %v, want the missed fire recorded", last, ok, err)
	}
	if last, ok, err := st.LastFire(ctx, "web", "new"); err != nil || ok {
		t.Errorf("last fire of a new schedule: %v %v %v, want none before it fires", last, ok, err)
	}

	for _, at := range []string{"11:40", "11:50", "12:00"} {
		clock.Set(utc("2026-12-07 " + at))
		asleep(t, clock, 1)
	}
	wantFires(t, &f, "web/new 12-07 11:40", "web/new 12-07 11:50", "web/hourly 12-07 12:00", "web/new 12-07 12:00")
}

// Two servers on one store fire each due time once, the missed one at
// start too.
func TestSchedulersOnOneStoreFireOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "velocity.db")
	first := openStore(t, path)
	if _, err := first.RecordFire(context.Background(), "web", "quarter", utc("2026-12-06 23:00")); err != nil {
		t.Fatal(err)
	}
	clock := trigger.NewFakeClock(utc("2026-12-07 00:05"))
	var list schedules
	list.set(entry(t, "web", "quarter", "*/15 * * * *", ""))
	var f fired
	for _, st := range []*sqlite.Store{first, openStore(t, path)} {
		start(t, &trigger.Scheduler{Clock: clock, Fires: st, List: list.list, Fire: f.fire})
	}
	asleep(t, clock, 2)
	wantFires(t, &f, "web/quarter 12-07 00:00 missed")
	for _, at := range []string{"00:15", "00:30", "00:45", "01:00"} {
		clock.Set(utc("2026-12-07 " + at))
		asleep(t, clock, 2)
	}
	wantFires(t, &f, "web/quarter 12-07 00:15", "web/quarter 12-07 00:30", "web/quarter 12-07 00:45", "web/quarter 12-07 01:00")
}

// An @every schedule counts from when its scheduler started; two
// schedulers on one store, started half an interval apart, still fire it
// once an interval: the later follows the earlier's phase.
func TestSchedulersOnOneStoreFollowOnePhase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "velocity.db")
	clock := trigger.NewFakeClock(utc("2026-12-07 00:00"))
	var list schedules
	list.set(entry(t, "web", "tick", "@every 1m", ""))
	var f fired
	start(t, &trigger.Scheduler{Clock: clock, Fires: openStore(t, path), List: list.list, Fire: f.fire})
	asleep(t, clock, 1)
	clock.Set(utc("2026-12-07 00:00").Add(30 * time.Second))
	start(t, &trigger.Scheduler{Clock: clock, Fires: openStore(t, path), List: list.list, Fire: f.fire})
	asleep(t, clock, 2)
	for at := utc("2026-12-07 00:01"); !at.After(utc("2026-12-07 00:03")); at = at.Add(30 * time.Second) {
		clock.Set(at)
		asleep(t, clock, 2)
	}
	wantFires(t, &f, "web/tick 12-07 00:01", "web/tick 12-07 00:02", "web/tick 12-07 00:03")
}

// A failing Fire is logged; the schedule fires again at its next time.
func TestSchedulerFireErrorIsNotFatal(t *testing.T) {
	clock := trigger.NewFakeClock(utc("2026-12-07 00:50"))
	var list schedules
	list.set(entry(t, "web", "quarter", "*/15 * * * *", ""))
	var f fired
	fail := func(ctx context.Context, e trigger.Entry, due time.Time, missed bool) error {
		f.fire(ctx, e, due, missed)
		return errors.New("queue full")
	}
	start(t, &trigger.Scheduler{Clock: clock, Fires: openStore(t, ""), List: list.list, Fire: fail})
	asleep(t, clock, 1)
	for _, at := range []string{"01:00", "01:15"} {
		clock.Set(utc("2026-12-07 " + at))
		asleep(t, clock, 1)
	}
	wantFires(t, &f, "web/quarter 12-07 01:00", "web/quarter 12-07 01:15")
}

// Cancelling Run's context ends it promptly, also while asleep until a
// fire far ahead.
func TestSchedulerStopsOnCancel(t *testing.T) {
	clock := trigger.NewFakeClock(utc("2026-12-07 00:50"))
	var list schedules
	list.set(entry(t, "web", "yearly", "@yearly", ""))
	var f fired
	stop := start(t, &trigger.Scheduler{Clock: clock, Fires: openStore(t, ""), List: list.list, Fire: f.fire})
	asleep(t, clock, 1)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func TestSchedulerNeedsItsParts(t *testing.T) {
	if err := (&trigger.Scheduler{}).Run(context.Background()); err == nil {
		t.Error("a scheduler without store, list and fire ran")
	}
}

func TestUpcoming(t *testing.T) {
	entries := []trigger.Entry{
		entry(t, "web", "never", "0 0 30 2 *", ""),
		entry(t, "web", "nightly", "0 3 * * *", "Europe/Berlin"),
		entry(t, "web", "hourly", "0 * * * *", ""),
		entry(t, "api", "nightly", "0 2 * * *", ""),
	}
	var got []string
	for _, n := range trigger.Upcoming(entries, utc("2026-12-07 00:30")) {
		at := "never"
		if !n.At.IsZero() {
			at = n.At.UTC().Format("01-02 15:04")
		}
		got = append(got, n.Entry.Project+"/"+n.Entry.Name+" "+at)
	}
	want := []string{"web/hourly 12-07 01:00", "api/nightly 12-07 02:00", "web/nightly 12-07 02:00", "web/never never"}
	if !slices.Equal(got, want) {
		t.Errorf("upcoming\n got %q\nwant %q", got, want)
	}
}

// A scheduler that wakes late (a suspended machine, a wall clock set
// forward) fires once, for the latest due time, and says it was missed.
func TestSchedulerLateWakeFiresOnce(t *testing.T) {
	clock := trigger.NewFakeClock(utc("2026-12-07 00:50"))
	var list schedules
	list.set(entry(t, "web", "quarter", "*/15 * * * *", ""))
	var f fired
	start(t, &trigger.Scheduler{Clock: clock, Fires: openStore(t, ""), List: list.list, Fire: f.fire})
	asleep(t, clock, 1)
	clock.Set(utc("2026-12-07 01:20"))
	asleep(t, clock, 1)
	wantFires(t, &f, "web/quarter 12-07 01:15 missed")
	clock.Set(utc("2026-12-07 01:30"))
	asleep(t, clock, 1)
	wantFires(t, &f, "web/quarter 12-07 01:30")
}

// A List that fails (a project's velocity.yml unreadable for a moment) is
// tried again a minute later, and the schedules then fire.
func TestSchedulerListsAgainAfterFailure(t *testing.T) {
	clock := trigger.NewFakeClock(utc("2026-12-07 00:50"))
	var list schedules
	list.set(entry(t, "web", "quarter", "*/15 * * * *", ""))
	var mu sync.Mutex
	calls := 0
	failOnce := func(ctx context.Context) ([]trigger.Entry, error) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if n == 1 {
			return nil, errors.New("mirror busy")
		}
		return list.list(ctx)
	}
	var f fired
	start(t, &trigger.Scheduler{Clock: clock, Fires: openStore(t, ""), List: failOnce, Fire: f.fire})
	for _, at := range []string{"00:51", "01:00"} {
		asleep(t, clock, 1)
		clock.Set(utc("2026-12-07 " + at))
	}
	asleep(t, clock, 1)
	wantFires(t, &f, "web/quarter 12-07 01:00")
}

// A schedule whose zone changes, its expression the same, fires at the
// expression's time in the new zone from then on.
func TestSchedulerRefreshNewZone(t *testing.T) {
	clock := trigger.NewFakeClock(utc("2026-12-07 00:30"))
	var list schedules
	list.set(entry(t, "web", "nightly", "0 3 * * *", "UTC"))
	var f fired
	s := &trigger.Scheduler{Clock: clock, Fires: openStore(t, ""), List: list.list, Fire: f.fire}
	start(t, s)
	asleep(t, clock, 1)
	// 03:00 in Berlin is 02:00 UTC in December.
	list.set(entry(t, "web", "nightly", "0 3 * * *", "Europe/Berlin"))
	s.Refresh()
	asleep(t, clock, 2)
	clock.Set(utc("2026-12-07 02:00"))
	asleep(t, clock, 1)
	wantFires(t, &f, "web/nightly 12-07 02:00")
	clock.Set(utc("2026-12-07 03:00"))
	asleep(t, clock, 1)
	wantFires(t, &f)
}

// flaky is a store whose first reads or writes of fires fail, as a
// locked or full disk would.
type flaky struct {
	*sqlite.Store
	mu                 sync.Mutex
	failLast, failFire int
}

func (s *flaky) LastFire(ctx context.Context, project, name string) (time.Time, bool, error) {
	s.mu.Lock()
	fail := s.failLast > 0
	s.failLast--
	s.mu.Unlock()
	if fail {
		return time.Time{}, false, errors.New("database is locked")
	}
	return s.Store.LastFire(ctx, project, name)
}

func (s *flaky) RecordFire(ctx context.Context, project, name string, due time.Time) (bool, error) {
	s.mu.Lock()
	fail := s.failFire > 0
	s.failFire--
	s.mu.Unlock()
	if fail {
		return false, errors.New("database is locked")
	}
	return s.Store.RecordFire(ctx, project, name, due)
}

// A fire up to a minute late is on time; later than that it is missed.
func TestSchedulerLateByAMinuteIsOnTime(t *testing.T) {
	clock := trigger.NewFakeClock(utc("2026-12-07 00:50"))
	var list schedules
	list.set(entry(t, "web", "quarter", "*/15 * * * *", ""))
	var f fired
	start(t, &trigger.Scheduler{Clock: clock, Fires: openStore(t, ""), List: list.list, Fire: f.fire})
	asleep(t, clock, 1)
	clock.Set(utc("2026-12-07 01:01"))
	asleep(t, clock, 1)
	wantFires(t, &f, "web/quarter 12-07 01:00")
	clock.Set(utc("2026-12-07 01:16").Add(time.Second))
	asleep(t, clock, 1)
	wantFires(t, &f, "web/quarter 12-07 01:15 missed")
}

// A fire the store could not record is tried again a minute later, and
// fires then, once, as missed.
func TestSchedulerRetriesWhenTheStoreFails(t *testing.T) {
	clock := trigger.NewFakeClock(utc("2026-12-07 00:50"))
	var list schedules
	list.set(entry(t, "web", "quarter", "*/15 * * * *", ""))
	var f fired
	st := &flaky{Store: openStore(t, ""), failFire: 1}
	var log logBuffer
	start(t, &trigger.Scheduler{Clock: clock, Fires: st, List: list.list, Fire: f.fire, Log: slog.New(slog.NewTextHandler(&log, nil))})
	asleep(t, clock, 1)
	clock.Set(utc("2026-12-07 01:00"))
	asleep(t, clock, 1)
	wantFires(t, &f)
	clock.Set(utc("2026-12-07 01:01").Add(30 * time.Second))
	asleep(t, clock, 1)
	wantFires(t, &f, "web/quarter 12-07 01:00 missed")
	if !strings.Contains(log.String(), `msg="record schedule fire; trying again" project=web schedule=quarter`) {
		t.Errorf("the failed record is not logged:\n%s", log.String())
	}
	clock.Set(utc("2026-12-07 01:15"))
	asleep(t, clock, 1)
	wantFires(t, &f, "web/quarter 12-07 01:15")
}

// When a schedule's last fire cannot be read, a fire missed while down
// is skipped (not run twice by guesswork) and the schedule fires at its
// next time.
func TestSchedulerUnreadableLastFireSkipsTheCatchUp(t *testing.T) {
	st := &flaky{Store: openStore(t, ""), failLast: 1}
	var log logBuffer
	if _, err := st.Store.RecordFire(context.Background(), "web", "quarter", utc("2026-12-06 12:00")); err != nil {
		t.Fatal(err)
	}
	clock := trigger.NewFakeClock(utc("2026-12-07 00:50"))
	var list schedules
	list.set(entry(t, "web", "quarter", "*/15 * * * *", ""))
	var f fired
	start(t, &trigger.Scheduler{Clock: clock, Fires: st, List: list.list, Fire: f.fire, Log: slog.New(slog.NewTextHandler(&log, nil))})
	asleep(t, clock, 1)
	wantFires(t, &f)
	if !strings.Contains(log.String(), `msg="read last fire of schedule; a fire missed while down is skipped" project=web schedule=quarter`) {
		t.Errorf("the unreadable last fire is not logged:\n%s", log.String())
	}
	clock.Set(utc("2026-12-07 01:00"))
	asleep(t, clock, 1)
	wantFires(t, &f, "web/quarter 12-07 01:00")
}

// logBuffer is a log a test reads while the scheduler writes it.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// The operator learns why a schedule did not run: a List or a Fire that
// failed is logged with its error.
func TestSchedulerLogsFailures(t *testing.T) {
	clock := trigger.NewFakeClock(utc("2026-12-07 00:50"))
	var list schedules
	list.set(entry(t, "web", "quarter", "*/15 * * * *", ""))
	var mu sync.Mutex
	calls := 0
	failOnce := func(ctx context.Context) ([]trigger.Entry, error) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if n == 1 {
			return nil, errors.New("mirror busy")
		}
		return list.list(ctx)
	}
	fail := func(context.Context, trigger.Entry, time.Time, bool) error { return errors.New("queue full") }
	var log logBuffer
	start(t, &trigger.Scheduler{Clock: clock, Fires: openStore(t, ""), List: failOnce, Fire: fail,
		Log: slog.New(slog.NewTextHandler(&log, nil))})
	for _, at := range []string{"00:51", "01:00"} {
		asleep(t, clock, 1)
		clock.Set(utc("2026-12-07 " + at))
	}
	asleep(t, clock, 1)
	for _, want := range []string{`msg="list schedules" err="mirror busy"`, `msg="schedule fire failed" project=web schedule=quarter`, `err="queue full"`} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("the log lacks %s:\n%s", want, log.String())
		}
	}
}
