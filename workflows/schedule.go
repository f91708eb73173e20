package workflows

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Sync schedule bounds.
const (
	// DefaultSchedule is hourly.
	DefaultSchedule = "1h"
	// MinSyncInterval is the shortest time between two syncs, for intervals
	// and cron specs alike.
	MinSyncInterval = 15 * time.Minute
	// MaxSyncInterval is the longest interval accepted.
	MaxSyncInterval = 7 * 24 * time.Hour
)

// Schedule is a parsed sync schedule: exactly one of Interval and Cron is
// set.
type Schedule struct {
	// Interval is the time between syncs ("1h", "15m", "2h30m").
	Interval time.Duration
	// Cron is a 5-field cron expression in UTC (minute hour day-of-month
	// month day-of-week), normalized to single spaces; the @hourly, @daily,
	// @midnight, @weekly, @monthly, @yearly and @annually shorthands are
	// kept as written.
	Cron string
}

// ValidateSchedule reports whether spec is an acceptable sync schedule.
func ValidateSchedule(spec string) error {
	_, err := ParseSchedule(spec)
	return err
}

// ParseSchedule parses a sync schedule: an interval of whole minutes between
// MinSyncInterval and MaxSyncInterval in Go duration syntax ("1h", "15m"), or
// a 5-field cron spec that never fires twice within MinSyncInterval and fires
// at least once a year. Fields accept *, n, a-b, */s, a-b/s, a/s and
// comma-separated lists of those; months and weekdays also accept their
// three-letter English names (JAN, MON), and day-of-week 7 is Sunday. This is
// a subset of what Temporal schedules accept, so an accepted spec is always
// accepted by the server. Pure and deterministic: callable from workflow code
// (validators) and from the API.
func ParseSchedule(spec string) (Schedule, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return Schedule{}, errors.New("schedule is empty")
	}
	if c := spec[0]; c >= '0' && c <= '9' && !strings.ContainsAny(spec, " \t") {
		return parseInterval(spec)
	}
	return parseCron(spec)
}

func parseInterval(spec string) (Schedule, error) {
	d, err := time.ParseDuration(spec)
	if err != nil {
		return Schedule{}, fmt.Errorf("schedule %q is neither an interval like \"1h\" nor a 5-field cron spec", spec)
	}
	switch {
	case d < MinSyncInterval:
		return Schedule{}, fmt.Errorf("schedule interval %s is shorter than the minimum of %s", d, MinSyncInterval)
	case d > MaxSyncInterval:
		return Schedule{}, fmt.Errorf("schedule interval %s is longer than the maximum of %s", d, MaxSyncInterval)
	case d%time.Minute != 0:
		return Schedule{}, fmt.Errorf("schedule interval %s is not a whole number of minutes", d)
	}
	return Schedule{Interval: d}, nil
}

var cronShorthands = map[string]string{
	"@yearly":   "0 0 1 1 *",
	"@annually": "0 0 1 1 *",
	"@monthly":  "0 0 1 * *",
	"@weekly":   "0 0 * * 0",
	"@daily":    "0 0 * * *",
	"@midnight": "0 0 * * *",
	"@hourly":   "0 * * * *",
}

type cronField struct {
	name     string
	min, max int
	names    []string // names[i] is the name of value min+i
}

var cronFields = [5]cronField{
	{name: "minute", min: 0, max: 59},
	{name: "hour", min: 0, max: 23},
	{name: "day-of-month", min: 1, max: 31},
	{name: "month", min: 1, max: 12, names: []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}},
	{name: "day-of-week", min: 0, max: 7, names: []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
}

func parseCron(spec string) (Schedule, error) {
	expr := spec
	if strings.HasPrefix(spec, "@") {
		e, ok := cronShorthands[strings.ToLower(spec)]
		if !ok {
			return Schedule{}, fmt.Errorf("schedule %q: unknown shorthand (use @hourly, @daily, @weekly, @monthly or @yearly)", spec)
		}
		expr = e
	}
	parts := strings.Fields(expr)
	if len(parts) != 5 {
		return Schedule{}, fmt.Errorf("schedule %q is neither an interval like \"1h\" nor a 5-field cron spec (minute hour day-of-month month day-of-week)", spec)
	}
	var sets [5]uint64
	for i, p := range parts {
		s, err := parseCronField(p, cronFields[i])
		if err != nil {
			return Schedule{}, fmt.Errorf("schedule %q: %w", spec, err)
		}
		sets[i] = s
	}
	if gap := minCronGap(sets[0], sets[1]); gap < int(MinSyncInterval/time.Minute) {
		return Schedule{}, fmt.Errorf("schedule %q fires %d minutes apart; the minimum is %s", spec, gap, MinSyncInterval)
	}
	if !cronFiresSomeDay(parts[2], parts[4], sets[2], sets[3]) {
		return Schedule{}, fmt.Errorf("schedule %q never fires: no month has that day", spec)
	}
	if strings.HasPrefix(spec, "@") {
		return Schedule{Cron: strings.ToLower(spec)}, nil
	}
	return Schedule{Cron: strings.Join(parts, " ")}, nil
}

// parseCronField returns the set of values a field matches, bit v for value v.
func parseCronField(s string, f cronField) (uint64, error) {
	var set uint64
	for item := range strings.SplitSeq(s, ",") {
		rng, stepStr, hasStep := strings.Cut(item, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepStr)
			if err != nil || n < 1 || n > f.max {
				return 0, fmt.Errorf("%s: bad step %q in %q", f.name, stepStr, item)
			}
			step = n
		}
		lo, hi := f.min, f.max
		switch {
		case rng == "*":
		case strings.Contains(rng, "-"):
			a, b, _ := strings.Cut(rng, "-")
			var err error
			if lo, err = cronValue(a, f); err != nil {
				return 0, err
			}
			if hi, err = cronValue(b, f); err != nil {
				return 0, err
			}
			if hi < lo {
				return 0, fmt.Errorf("%s: range %q ends before it starts", f.name, rng)
			}
		default:
			v, err := cronValue(rng, f)
			if err != nil {
				return 0, err
			}
			lo = v
			if !hasStep {
				hi = v
			}
		}
		for v := lo; v <= hi; v += step {
			set |= 1 << v
		}
	}
	if f.name == "day-of-week" && set&(1<<7) != 0 { // 7 is Sunday too
		set = set&^(1<<7) | 1
	}
	return set, nil
}

func cronValue(s string, f cronField) (int, error) {
	if len(s) == 3 && f.names != nil {
		for i, n := range f.names {
			if strings.EqualFold(s, n) {
				return f.min + i, nil
			}
		}
	}
	v, err := strconv.Atoi(s)
	if err != nil || s == "" || s[0] == '+' || s[0] == '-' {
		return 0, fmt.Errorf("%s: %q is not a value", f.name, s)
	}
	if v < f.min || v > f.max {
		return 0, fmt.Errorf("%s: %d is outside %d-%d", f.name, v, f.min, f.max)
	}
	return v, nil
}

// minCronGap returns the shortest time in minutes between two firings of a
// cron spec with the given minute and hour sets, counting the gap from the
// last firing of a day to the first of the next (which is exact for specs
// that fire on consecutive days and errs on the safe side otherwise).
func minCronGap(minutes, hours uint64) int {
	const day = 24 * 60
	first, prev, gap := -1, -1, day
	for h := 0; h < 24; h++ {
		if hours&(1<<h) == 0 {
			continue
		}
		for m := 0; m < 60; m++ {
			if minutes&(1<<m) == 0 {
				continue
			}
			t := h*60 + m
			if first < 0 {
				first = t
			} else {
				gap = min(gap, t-prev)
			}
			prev = t
		}
	}
	if first >= 0 {
		gap = min(gap, first+day-prev)
	}
	return gap
}

// cronFiresSomeDay reports whether a spec's days can occur: a restricted
// day-of-month with an unrestricted day-of-week must name a day that exists
// in one of its months (with a restricted day-of-week cron fires on either).
func cronFiresSomeDay(domField, dowField string, days, months uint64) bool {
	if domField == "*" || dowField != "*" {
		return true
	}
	monthDays := [13]int{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}
	for m := 1; m <= 12; m++ {
		if months&(1<<m) == 0 {
			continue
		}
		for d := 1; d <= monthDays[m]; d++ {
			if days&(1<<d) != 0 {
				return true
			}
		}
	}
	return false
}
