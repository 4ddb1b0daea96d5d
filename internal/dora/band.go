package dora

import (
	"fmt"
	"strings"
	"time"
)

// Band is a DORA performance level, "" when the window has nothing to
// rate (no change shipped, no failure to restore).
type Band string

// The performance levels, best first.
const (
	Elite  Band = "elite"
	High   Band = "high"
	Medium Band = "medium"
	Low    Band = "low"
)

// The thresholds below follow the performance clusters of DORA's
// Accelerate State of DevOps Report 2023 (Google Cloud; summarised at
// https://dora.dev/quickcheck/): deployments on demand, about daily,
// weekly or monthly; lead time under a day, a week, a month; change
// failure rates near 5, 10 and 15 per cent; recovery under an hour, a
// day, a week. The report gives ranges between survey answers; a number
// computed from a journal needs a single cut-off between two levels,
// taken at each range's edge as written beside each function.

// day and month are the units the thresholds are written in; a month is
// counted as 30 days.
const (
	day   = 24 * time.Hour
	week  = 7 * day
	month = 30 * day
)

// FrequencyBand rates deploys per day: at least daily (on demand) is
// elite, at least weekly high, at least monthly medium, less low.
func FrequencyBand(perDay float64) Band {
	switch {
	case perDay >= 1:
		return Elite
	case perDay >= 1.0/7:
		return High
	case perDay >= 1.0/30:
		return Medium
	}
	return Low
}

// LeadTimeBand rates the median lead time for changes: under a day is
// elite, under a week high, under a month medium, longer low.
func LeadTimeBand(median time.Duration) Band {
	switch {
	case median < day:
		return Elite
	case median < week:
		return High
	case median < month:
		return Medium
	}
	return Low
}

// FailureRateBand rates the change failure rate (0 to 1): at most 5%
// is elite, at most 10% high, at most 15% medium, more low.
func FailureRateBand(rate float64) Band {
	switch {
	case rate <= 0.05:
		return Elite
	case rate <= 0.10:
		return High
	case rate <= 0.15:
		return Medium
	}
	return Low
}

// RestoreBand rates the median time to restore: under an hour is
// elite, under a day high, under a week medium, longer low.
func RestoreBand(median time.Duration) Band {
	switch {
	case median < time.Hour:
		return Elite
	case median < day:
		return High
	case median < week:
		return Medium
	}
	return Low
}

// Span reads a duration the way the reports show it: whole seconds
// under a day, days and hours beyond.
func Span(d time.Duration) string {
	if d >= day {
		days, hours := d/day, (d%day).Round(time.Hour)/time.Hour
		if hours == 24 {
			days, hours = days+1, 0
		}
		if hours == 0 {
			return fmt.Sprintf("%dd", days)
		}
		return fmt.Sprintf("%dd%dh", days, hours)
	}
	s := d.Round(time.Second).String()
	// 1h0m0s reads better as 1h, 5m0s as 5m.
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
