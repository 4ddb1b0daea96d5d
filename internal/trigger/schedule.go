package trigger

import (
	"strings"
	"time"
	// Schedules name IANA zones; the embedded database makes them work
	// on a machine or container without /usr/share/zoneinfo.
	_ "time/tzdata"

	"github.com/robfig/cron/v3"

	"github.com/velocity-ci/velocity/internal/fault"
)

// Cron is a schedule's cron expression evaluated in its time zone.
type Cron struct {
	sched cron.Schedule
	loc   *time.Location
	// hourly is set when the expression fires in every hour; then a
	// wall-clock hour that repeats when clocks go back is two real hours
	// and fires twice, like any other hour.
	hourly bool
	// expr is the expression as written, to tell a changed schedule
	// from the same one read again and to show it.
	expr string
}

// Expr returns the cron expression as written.
func (c Cron) Expr() string { return c.expr }

// Location returns the time zone the expression is read in.
func (c Cron) Location() *time.Location {
	if c.loc == nil {
		return time.UTC
	}
	return c.loc
}

// String returns the expression and its zone: "0 3 * * * (Europe/Berlin)".
func (c Cron) String() string { return c.expr + " (" + c.Location().String() + ")" }

// same reports whether c and o are one schedule: the same expression in
// the same zone, however often they were parsed.
func (c Cron) same(o Cron) bool {
	return c.expr == o.expr && c.Location().String() == o.Location().String()
}

// cronParser reads the five standard fields (minute hour day-of-month
// month day-of-week) and the descriptors @yearly, @monthly, @weekly,
// @daily, @hourly and @every DURATION.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseCron reads a cron expression and an IANA time zone name ("" means
// UTC). Errors are Invalid and say which of the two is wrong.
func ParseCron(expr, timezone string) (Cron, error) {
	loc, err := Location(timezone)
	if err != nil {
		return Cron{}, err
	}
	// The parser would take a zone from the expression itself; a
	// schedule has its own field for that, and one place is enough.
	if strings.HasPrefix(expr, "TZ=") || strings.HasPrefix(expr, "CRON_TZ=") {
		return Cron{}, fault.Invalidf("cron %q: give the time zone in the timezone field, not in the expression", expr)
	}
	s, err := cronParser.Parse(expr)
	if err != nil {
		return Cron{}, fault.Invalidf("cron %q: %v (five fields: minute hour day-of-month month day-of-week, or @daily, @hourly, …)", expr, err)
	}
	c := Cron{sched: s, loc: loc, expr: expr}
	if spec, ok := s.(*cron.SpecSchedule); ok {
		const allHours = 1<<24 - 1
		c.hourly = spec.Hour&allHours == allHours
	} else {
		c.hourly = true // @every: a fixed interval, blind to wall clocks
	}
	return c, nil
}

// Location loads an IANA time zone ("Europe/Berlin"); "" and "UTC" are
// UTC. "Local" is refused: the same velocity.yml must fire at the same
// instants on a laptop and on the server.
func Location(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	if name == "Local" {
		return nil, fault.Invalidf(`time zone "Local" depends on the machine: name the zone, like "Europe/Berlin" or "UTC"`)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fault.Invalidf("unknown time zone %q: use an IANA name like \"Europe/Berlin\" or \"UTC\"", name)
	}
	return loc, nil
}

// Next returns the first fire time strictly after t, in the schedule's
// time zone, or the zero time if the expression never fires (30 February).
//
// Across daylight saving changes, a schedule that fires at set hours
// fires once a day as on any other: at a wall time that does not exist on
// the day clocks go forward it fires the moment they jump, and at one
// that occurs twice when they go back it fires the first time only. A
// schedule that fires every hour keeps to real hours: the hour skipped
// has no fire, the hour repeated fires twice.
func (c Cron) Next(t time.Time) time.Time {
	for {
		f := c.sched.Next(t.In(c.loc))
		if c.hourly {
			return f
		}
		if g, ok := c.inGap(t, f); ok {
			return g
		}
		if f.IsZero() || !c.repeated(f) {
			return f
		}
		t = f
	}
}

// inGap returns the first instant in (t, f) at which clocks jump forward
// over a wall time the schedule fires at (f zero: within the five years
// robfig/cron looks ahead). That instant stands in for the wall time that
// never came.
func (c Cron) inGap(t, f time.Time) (time.Time, bool) {
	horizon := t.AddDate(5, 0, 0)
	if !f.IsZero() {
		horizon = f
	}
	cur := t.In(c.loc)
	// Zones change offset a few times a year; the bound only guards
	// against a zone database gone wrong.
	for range 64 {
		_, end := cur.ZoneBounds()
		if end.IsZero() || !end.Before(horizon) {
			return time.Time{}, false
		}
		_, before := end.Add(-time.Second).Zone()
		_, after := end.Zone()
		if after > before {
			// The skipped wall times, in the offset that was in force.
			start := end.In(time.FixedZone("", before))
			g := c.sched.Next(start.Add(-time.Second))
			if !g.IsZero() && g.Before(start.Add(time.Duration(after-before)*time.Second)) {
				return end.In(c.loc), true
			}
		}
		cur = end
	}
	return time.Time{}, false
}

// repeated reports whether f's wall-clock time already occurred, earlier
// the same night when clocks went back, and fired then. Offsets change
// by 30 minutes, an hour or (rarely) two.
func (c Cron) repeated(f time.Time) bool {
	for _, d := range []time.Duration{30 * time.Minute, time.Hour, 2 * time.Hour} {
		e := f.Add(-d)
		if sameWallMinute(e, f) {
			return c.sched.Next(e.Add(-time.Second)).Equal(e)
		}
	}
	return false
}

func sameWallMinute(a, b time.Time) bool {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	return ay == by && am == bm && ad == bd && a.Hour() == b.Hour() && a.Minute() == b.Minute()
}

// Missed returns the latest fire time in (last, now] and true, or false
// when the schedule was not due since last. last is when the schedule
// last fired (or was first seen); a server that was down over several
// fire times runs the schedule once when it is back, for the latest of
// them, and records that one as its last fire.
func (c Cron) Missed(last, now time.Time) (time.Time, bool) {
	first := c.Next(last)
	if first.IsZero() || first.After(now) {
		return time.Time{}, false
	}
	// Look back from now over a window that doubles until it holds a
	// fire time, so a long downtime under a frequent schedule does not
	// walk every fire time since last.
	from := first
	// The bound keeps the doubling clear of overflow; robfig's Next
	// looks at most five years ahead, so a window that long finds any
	// schedule that still fires.
	for w := time.Minute; w < 50*365*24*time.Hour; w *= 2 {
		start := now.Add(-w)
		if !start.After(last) {
			break
		}
		if f := c.Next(start); !f.IsZero() && !f.After(now) {
			from = f
			break
		}
	}
	latest := from
	for f := c.Next(from); !f.IsZero() && !f.After(now); f = c.Next(f) {
		latest = f
	}
	return latest, true
}
