package trigger_test

import (
	"errors"
	"testing"
	"time"

	"github.com/velocity-ci/velocity/internal/fault"
	"github.com/velocity-ci/velocity/internal/trigger"
)

func mustCron(t *testing.T, expr, tz string) trigger.Cron {
	t.Helper()
	c, err := trigger.ParseCron(expr, tz)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func at(t *testing.T, tz, s string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation(tz)
	if err != nil {
		t.Fatal(err)
	}
	v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// fires lists the next n fire times after from, in UTC.
func fires(c trigger.Cron, from time.Time, n int) []string {
	var out []string
	for f := from; len(out) < n; {
		f = c.Next(f)
		out = append(out, f.UTC().Format("2006-01-02 15:04"))
	}
	return out
}

func TestNextInTimeZone(t *testing.T) {
	for _, c := range []struct {
		expr, tz, from string
		want           []string
	}{
		// 03:00 in Berlin is 02:00 UTC in winter, 01:00 in summer.
		{"0 3 * * *", "Europe/Berlin", "2026-01-10 12:00", []string{"2026-01-11 02:00", "2026-01-12 02:00"}},
		{"0 3 * * *", "Europe/Berlin", "2026-07-10 12:00", []string{"2026-07-11 01:00", "2026-07-12 01:00"}},
		// Strictly after: a fire time is not its own next.
		{"0 3 * * *", "Europe/Berlin", "2026-01-11 03:00", []string{"2026-01-12 02:00"}},
		{"*/15 9-10 * * 1-5", "UTC", "2026-12-04 10:50", []string{"2026-12-07 09:00", "2026-12-07 09:15"}},
		{"@daily", "", "2026-12-07 19:00", []string{"2026-12-08 00:00"}},
		{"0 0 1 1 *", "Asia/Kolkata", "2026-06-01 00:00", []string{"2026-12-31 18:30"}},
	} {
		tz := c.tz
		if tz == "" {
			tz = "UTC"
		}
		got := fires(mustCron(t, c.expr, c.tz), at(t, tz, c.from), len(c.want))
		if len(got) != len(c.want) || got[0] != c.want[0] || got[len(got)-1] != c.want[len(c.want)-1] {
			t.Errorf("%s in %s after %s: %v, want %v", c.expr, tz, c.from, got, c.want)
		}
	}
}

// Clocks in Berlin go forward at 02:00 on 2026-03-29 and back at 03:00 on
// 2026-10-25. A daily schedule fires once a day through both: at a wall
// time that does not exist that day, when the clocks jump; at one that
// occurs twice, the first time. An hourly one fires each real hour, the
// repeated one included, and none for the hour skipped.
func TestNextAcrossDaylightSaving(t *testing.T) {
	for _, c := range []struct {
		name, expr, from string
		want             []string
	}{
		{"spring daily 03:00", "0 3 * * *", "2026-03-28 12:00", []string{"2026-03-29 01:00", "2026-03-30 01:00"}},
		{"spring daily in the gap", "30 2 * * *", "2026-03-28 12:00", []string{"2026-03-29 01:00", "2026-03-30 00:30"}},
		{"spring daily at the jump", "0 2 * * *", "2026-03-28 12:00", []string{"2026-03-29 01:00", "2026-03-30 00:00"}},
		{"spring twice in the gap", "15,45 2 * * *", "2026-03-29 00:00", []string{"2026-03-29 01:00", "2026-03-30 00:15"}},
		{"spring hourly", "30 * * * *", "2026-03-29 01:00", []string{"2026-03-29 00:30", "2026-03-29 01:30"}},
		{"autumn daily in the repeated hour", "30 2 * * *", "2026-10-24 12:00", []string{"2026-10-25 00:30", "2026-10-26 01:30", "2026-10-27 01:30"}},
		{"autumn daily after", "0 3 * * *", "2026-10-24 12:00", []string{"2026-10-25 02:00", "2026-10-26 02:00"}},
		{"autumn hourly", "0 * * * *", "2026-10-25 00:30", []string{"2026-10-24 23:00", "2026-10-25 00:00", "2026-10-25 01:00", "2026-10-25 02:00"}},
		{"autumn every two hours", "0 */2 * * *", "2026-10-25 00:30", []string{"2026-10-25 00:00", "2026-10-25 03:00"}},
	} {
		got := fires(mustCron(t, c.expr, "Europe/Berlin"), at(t, "Europe/Berlin", c.from), len(c.want))
		for i := range c.want {
			if got[i] != c.want[i] {
				t.Errorf("%s: %v, want %v", c.name, got, c.want)
				break
			}
		}
	}
	// New York jumps from 02:00 EST to 03:00 EDT (07:00 UTC) on 2026-03-08.
	ny := fires(mustCron(t, "30 2 * * *", "America/New_York"), at(t, "America/New_York", "2026-03-07 12:00"), 2)
	if ny[0] != "2026-03-08 07:00" || ny[1] != "2026-03-09 06:30" {
		t.Errorf("New York spring: %v", ny)
	}
}

// A server that was down over fire times runs the schedule once when it
// is back, for the latest of them; the clock is injected as now.
func TestMissed(t *testing.T) {
	nightly := mustCron(t, "0 3 * * *", "Europe/Berlin")
	last := at(t, "Europe/Berlin", "2026-12-01 03:00")
	for _, c := range []struct {
		name, now string
		want      string // "" for none
	}{
		{"before the next fire", "2026-12-02 02:59", ""},
		{"at the next fire", "2026-12-02 03:00", "2026-12-02 03:00"},
		{"down one night", "2026-12-02 09:00", "2026-12-02 03:00"},
		{"down a week", "2026-12-08 14:00", "2026-12-08 03:00"},
		{"down a week, back before that day's fire", "2026-12-08 02:00", "2026-12-07 03:00"},
	} {
		got, ok := nightly.Missed(last, at(t, "Europe/Berlin", c.now))
		switch {
		case c.want == "" && ok:
			t.Errorf("%s: missed %v, want none", c.name, got)
		case c.want != "" && (!ok || !got.Equal(at(t, "Europe/Berlin", c.want))):
			t.Errorf("%s: missed %v %v, want %s", c.name, got, ok, c.want)
		}
	}
	// The catch-up is recorded as the last fire: asking again finds none,
	// however many fire times the downtime held.
	now := at(t, "Europe/Berlin", "2026-12-08 14:00")
	f, _ := nightly.Missed(last, now)
	if g, ok := nightly.Missed(f, now); ok {
		t.Errorf("second catch-up %v after %v", g, f)
	}
	// A frequent schedule down for a year: one catch-up, found quickly.
	minutely := mustCron(t, "* * * * *", "UTC")
	start := time.Now()
	f, ok := minutely.Missed(time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 10, 30, 30, 0, time.UTC))
	if !ok || !f.Equal(time.Date(2026, 12, 1, 10, 30, 0, 0, time.UTC)) {
		t.Errorf("minutely after a year: %v %v", f, ok)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("catching up a minutely schedule took %v", d)
	}
	// An expression that never fires misses nothing.
	never := mustCron(t, "0 0 30 2 *", "UTC")
	if f, ok := never.Missed(time.Time{}, now); ok {
		t.Errorf("30 February missed at %v", f)
	}
}

// Missed across the autumn change: the repeated wall time is one fire.
func TestMissedAcrossDaylightSaving(t *testing.T) {
	c := mustCron(t, "30 2 * * *", "Europe/Berlin")
	first, ok := c.Missed(at(t, "Europe/Berlin", "2026-10-24 12:00"), time.Date(2026, 10, 25, 1, 0, 0, 0, time.UTC))
	if !ok || !first.Equal(time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC)) {
		t.Fatalf("missed %v %v", first, ok)
	}
	if f, ok := c.Missed(first, time.Date(2026, 10, 25, 12, 0, 0, 0, time.UTC)); ok {
		t.Errorf("the repeated 02:30 fired again at %v", f)
	}
	// Down over the night clocks go forward: the catch-up is the jump.
	f, ok := c.Missed(at(t, "Europe/Berlin", "2026-03-28 02:30"), at(t, "Europe/Berlin", "2026-03-29 12:00"))
	if !ok || !f.Equal(at(t, "Europe/Berlin", "2026-03-29 03:00")) {
		t.Errorf("spring catch-up %v %v", f, ok)
	}
}

func TestParseCronRefuses(t *testing.T) {
	for _, c := range [][2]string{
		{"0 3 * *", ""},                 // four fields
		{"61 * * * *", ""},              // minute out of range
		{"0 0 3 * * *", ""},             // seconds are not a field
		{"CRON_TZ=UTC 0 3 * * *", ""},   // zone in the expression
		{"0 3 * * *", "Mars/Olympus"},   // unknown zone
		{"0 3 * * *", "Local"},          // machine-dependent
		{"@fortnightly", ""},            // unknown descriptor
		{"0 3 * * *", "../../etc/zone"}, // not a zone name
	} {
		if _, err := trigger.ParseCron(c[0], c[1]); !errors.Is(err, fault.Invalid) {
			t.Errorf("ParseCron(%q, %q): %v, want Invalid", c[0], c[1], err)
		}
	}
}

// The syntax docs/pipeline.md promises: names of days and months, and
// the descriptors.
func TestCronSyntax(t *testing.T) {
	from := time.Date(2026, 12, 7, 19, 0, 0, 0, time.UTC) // a Monday
	for expr, want := range map[string]string{
		"0 9 * JAN MON-FRI": "2027-01-01 09:00",
		"@weekly":           "2026-12-13 00:00",
		"@every 6h":         "2026-12-08 01:00",
		"@hourly":           "2026-12-07 20:00",
	} {
		if got := mustCron(t, expr, "UTC").Next(from).Format("2006-01-02 15:04"); got != want {
			t.Errorf("%s after %v: %s, want %s", expr, from, got, want)
		}
	}
}

// A schedule first seen at the zero time (never fired) catches up once.
func TestMissedSinceTheZeroTime(t *testing.T) {
	now := time.Date(2026, 12, 7, 19, 0, 0, 0, time.UTC)
	f, ok := mustCron(t, "0 3 * * *", "UTC").Missed(time.Time{}, now)
	if !ok || !f.Equal(time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)) {
		t.Errorf("missed %v %v", f, ok)
	}
}

// A schedule shows as its expression and its zone, UTC when none was
// given (the zero Cron too).
func TestCronShowsItsZone(t *testing.T) {
	if got := mustCron(t, "0 3 * * *", "Europe/Berlin").String(); got != "0 3 * * * (Europe/Berlin)" {
		t.Errorf("String() = %q", got)
	}
	if got := mustCron(t, "@daily", "").String(); got != "@daily (UTC)" {
		t.Errorf("String() without a zone = %q", got)
	}
	if loc := (trigger.Cron{}).Location(); loc != time.UTC {
		t.Errorf("the zero Cron's zone is %v, want UTC", loc)
	}
}
