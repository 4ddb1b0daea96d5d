package trigger

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/velocity-ci/velocity/internal/fault"
	"github.com/velocity-ci/velocity/internal/store"
)

// Entry is one schedule of one project, as the Scheduler fires it.
type Entry struct {
	Project string
	// Name is the schedule's name, unique within the project.
	Name string
	// Branch is the branch whose head a fire runs; "" is the project's.
	Branch string
	Cron   Cron
}

// Scheduler fires schedules at their times, for as long as Run runs.
//
// A fire is taken in Fires before Fire is called, so of several
// schedulers on one store (several servers, or two processes by mistake)
// exactly one fires each due time. A scheduler that starts after downtime
// fires each schedule that was due meanwhile once, for the latest due
// time it missed, however many it missed; a schedule with no fire
// recorded (new, or of a project added again) waits for its next time.
type Scheduler struct {
	// Clock is nil for SystemClock.
	Clock Clock
	Fires store.ScheduleFires
	// List returns the schedules now. It is called when Run starts and
	// after each Refresh, from Run's goroutine.
	List func(ctx context.Context) ([]Entry, error)
	// Fire starts a run for e, due at due; missed says it fires late:
	// the scheduler was not running at due (down, asleep, or its store
	// failing). It is called from Run's goroutine, one fire at a time,
	// so it should queue the run and return. An error is logged; the
	// fire is not repeated.
	Fire func(ctx context.Context, e Entry, due time.Time, missed bool) error
	Log  *slog.Logger

	mu      sync.Mutex
	refresh chan struct{}
}

const (
	// maxSleep bounds a sleep, so that a wall clock set right or a
	// machine that was suspended delays a fire by at most this much.
	maxSleep = time.Minute
	// retryAfter is how long a schedule waits after its store failed.
	retryAfter = time.Minute
	// lateAfter is how late a fire may be and still not count as missed.
	lateAfter = time.Minute
)

// Refresh makes Run list the schedules again, soon, from any goroutine;
// call it when they changed (a project added, removed or pushed to).
// Refreshes that come while one is pending are one refresh.
func (s *Scheduler) Refresh() {
	select {
	case s.refreshes() <- struct{}{}:
	default:
	}
}

func (s *Scheduler) refreshes() chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refresh == nil {
		s.refresh = make(chan struct{}, 1)
	}
	return s.refresh
}

// slot is the Scheduler's state of one entry.
type slot struct {
	e Entry
	// from: every due time at or before it is dealt with.
	from time.Time
	// next is the first due time after from; zero when there is none.
	next time.Time
	// missed is set when next came while no scheduler ran.
	missed bool
	// retry, when set, is when to try again after the store failed.
	retry time.Time
}

// wake is when the slot wants the scheduler awake; zero for never.
func (sl *slot) wake() time.Time {
	if sl.retry.After(sl.next) && !sl.next.IsZero() {
		return sl.retry
	}
	return sl.next
}

type slotKey struct{ project, name string }

func (s *Scheduler) clock() Clock {
	if s.Clock == nil {
		return SystemClock{}
	}
	return s.Clock
}

// Run fires the schedules until ctx is done, then returns nil. A List
// that fails is logged and tried again a minute later; the schedules
// listed before keep firing. A Scheduler without Fires, List or Fire is
// an error wrapping fault.Invalid.
func (s *Scheduler) Run(ctx context.Context) error {
	if s.Fires == nil || s.List == nil || s.Fire == nil {
		return fault.Invalidf("scheduler: Fires, List and Fire are required")
	}
	log := s.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	slots := map[slotKey]*slot{}
	var relist time.Time
	list := func() {
		entries, err := s.List(ctx)
		if err != nil {
			if ctx.Err() == nil {
				log.Error("list schedules", "err", err)
			}
			relist = s.clock().Now().Add(retryAfter)
			return
		}
		relist = time.Time{}
		s.merge(ctx, log, slots, entries)
	}
	list()
	for {
		now := s.clock().Now()
		if !relist.IsZero() && !relist.After(now) {
			list()
		}
		var due []*slot
		for _, sl := range slots {
			if w := sl.wake(); !w.IsZero() && !w.After(now) {
				due = append(due, sl)
			}
		}
		slices.SortFunc(due, func(a, b *slot) int {
			return cmp.Or(a.next.Compare(b.next), cmp.Compare(a.e.Project, b.e.Project), cmp.Compare(a.e.Name, b.e.Name))
		})
		for _, sl := range due {
			if ctx.Err() != nil {
				return nil
			}
			s.fire(ctx, log, sl, now)
		}

		sleep := maxSleep
		for _, sl := range slots {
			if w := sl.wake(); !w.IsZero() {
				sleep = min(sleep, w.Sub(now))
			}
		}
		if !relist.IsZero() {
			sleep = min(sleep, relist.Sub(now))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.refreshes():
			list()
		case <-s.clock().After(sleep):
		}
	}
}

// merge brings slots in line with entries: new ones start from their last
// fire in the store, changed ones from now, gone ones are dropped.
func (s *Scheduler) merge(ctx context.Context, log *slog.Logger, slots map[slotKey]*slot, entries []Entry) {
	now := s.clock().Now()
	seen := map[slotKey]bool{}
	for _, e := range entries {
		k := slotKey{e.Project, e.Name}
		if e.Cron.sched == nil {
			log.Error("schedule without a cron expression is ignored", "project", e.Project, "schedule", e.Name)
			continue
		}
		seen[k] = true
		if sl, ok := slots[k]; ok {
			if !sl.e.Cron.same(e.Cron) {
				// A new expression counts from now: changing the
				// schedule must not fire it for a time already past.
				sl.from, sl.missed = laterOf(sl.from, now), false
				sl.next = e.Cron.Next(sl.from)
			}
			sl.e = e
			continue
		}
		sl := &slot{e: e, from: now}
		last, ok, err := s.Fires.LastFire(ctx, e.Project, e.Name)
		switch {
		case err != nil:
			if ctx.Err() == nil {
				log.Error("read last fire of schedule; a fire missed while down is skipped", "project", e.Project, "schedule", e.Name, "err", err)
			}
		case ok:
			sl.from = last
		}
		sl.next = e.Cron.Next(sl.from)
		sl.missed = !sl.next.IsZero() && !sl.next.After(now)
		slots[k] = sl
	}
	for k := range slots {
		if !seen[k] {
			delete(slots, k)
		}
	}
}

// fire fires sl for the latest of its due times at or before now: one
// fire however many passed, as after downtime.
func (s *Scheduler) fire(ctx context.Context, log *slog.Logger, sl *slot, now time.Time) {
	e := sl.e
	// Another scheduler sharing the store fired since this one's last
	// reference: an @every schedule counts from when each scheduler
	// started, so without this two servers would fire it at two phases
	// of the interval, each due time new to the store. Counting from the
	// other's fire puts both on one phase.
	if last, ok, err := s.Fires.LastFire(ctx, e.Project, e.Name); err == nil && ok && last.After(sl.from) {
		sl.from, sl.next, sl.missed = last, e.Cron.Next(last), false
		if sl.next.After(now) {
			log.Debug("schedule fired by another scheduler", "project", e.Project, "schedule", e.Name, "due", last)
			sl.retry = time.Time{}
			return
		}
	}
	due, ok := e.Cron.Missed(sl.from, now)
	if !ok {
		// The retry of a failed store whose fire is no longer due
		// (the clock went back).
		sl.retry = time.Time{}
		return
	}
	missed := sl.missed || now.Sub(due) > lateAfter || !e.Cron.Next(sl.from).Equal(due)
	taken, err := s.Fires.RecordFire(ctx, e.Project, e.Name, due)
	if err != nil {
		if ctx.Err() == nil {
			log.Error("record schedule fire; trying again", "project", e.Project, "schedule", e.Name, "due", due, "err", err)
		}
		sl.retry = now.Add(retryAfter)
		return
	}
	sl.from, sl.next, sl.missed, sl.retry = due, e.Cron.Next(due), false, time.Time{}
	if !taken {
		log.Debug("schedule fired by another scheduler", "project", e.Project, "schedule", e.Name, "due", due)
		return
	}
	log.Info("schedule fires", "project", e.Project, "schedule", e.Name, "due", due, "missed", missed)
	if err := s.Fire(ctx, e, due, missed); err != nil {
		log.Error("schedule fire failed", "project", e.Project, "schedule", e.Name, "due", due, "err", err)
	}
}

func laterOf(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Next is an entry with its next fire time; At is zero for a schedule
// that never fires (30 February).
type Next struct {
	Entry Entry
	At    time.Time
}

// Upcoming returns each entry with its first fire time after now, the
// soonest first (ties by project and name), never-firing ones last.
func Upcoming(entries []Entry, now time.Time) []Next {
	out := make([]Next, 0, len(entries))
	for _, e := range entries {
		n := Next{Entry: e}
		if e.Cron.sched != nil {
			n.At = e.Cron.Next(now)
		}
		out = append(out, n)
	}
	slices.SortStableFunc(out, func(a, b Next) int {
		if a.At.IsZero() != b.At.IsZero() {
			if a.At.IsZero() {
				return 1
			}
			return -1
		}
		return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.Entry.Project, b.Entry.Project), cmp.Compare(a.Entry.Name, b.Entry.Name))
	})
	return out
}
