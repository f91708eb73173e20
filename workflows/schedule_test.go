package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseScheduleAccepts(t *testing.T) {
	for spec, want := range map[string]Schedule{
		"1h":                   {Interval: time.Hour},
		"15m":                  {Interval: 15 * time.Minute},
		" 2h30m ":              {Interval: 150 * time.Minute},
		"168h":                 {Interval: 7 * 24 * time.Hour},
		"0 * * * *":            {Cron: "0 * * * *"},
		"*/15 * * * *":         {Cron: "*/15 * * * *"},
		"0,30 * * * *":         {Cron: "0,30 * * * *"},
		"5  */2 * * *":         {Cron: "5 */2 * * *"},
		"15 */2 * * MON-FRI":   {Cron: "15 */2 * * MON-FRI"},
		"0 9-17 * * 1-5":       {Cron: "0 9-17 * * 1-5"},
		"30 2 1 jan,jul *":     {Cron: "30 2 1 jan,jul *"},
		"0 0 * * 7":            {Cron: "0 0 * * 7"},
		"0 0 29 2 *":           {Cron: "0 0 29 2 *"},
		"0 0 31 * *":           {Cron: "0 0 31 * *"},
		"10/20 * * * *":        {Cron: "10/20 * * * *"},
		"0 12 * * sun":         {Cron: "0 12 * * sun"},
		"45 23 * * *":          {Cron: "45 23 * * *"},
		"0 0-23/6 1-15/2 * *":  {Cron: "0 0-23/6 1-15/2 * *"},
		"@hourly":              {Cron: "@hourly"},
		"@DAILY":               {Cron: "@daily"},
		"@weekly":              {Cron: "@weekly"},
		"0 22,23 * * *":        {Cron: "0 22,23 * * *"},
		"50 23 * * *":          {Cron: "50 23 * * *"},
		"0 0 1 1 *":            {Cron: "0 0 1 1 *"},
		"0,15,30,45 * * * sat": {Cron: "0,15,30,45 * * * sat"},
	} {
		got, err := ParseSchedule(spec)
		require.NoError(t, err, spec)
		require.Equal(t, want, got, spec)
	}
}

func TestParseScheduleRefuses(t *testing.T) {
	for spec, msg := range map[string]string{
		"":                       "empty",
		"5m":                     "shorter than the minimum of 15m",
		"14m59s":                 "shorter than the minimum",
		"0s":                     "shorter than the minimum",
		"-1h":                    "neither an interval",
		"169h":                   "longer than the maximum",
		"15m30s":                 "not a whole number of minutes",
		"1 hour":                 "neither an interval",
		"hourly":                 "neither an interval",
		"every now and then":     "neither an interval",
		"@every 1h":              "unknown shorthand",
		"@reboot":                "unknown shorthand",
		"* * * * *":              "fires 1 minutes apart",
		"*/5 * * * *":            "fires 5 minutes apart",
		"0,10 * * * *":           "fires 10 minutes apart",
		"55 0 * * *":             "",                       // fine: once a day
		"0,50 23 * * *":          "",                       // 23:00 and 23:50
		"0,50 0,23 * * *":        "fires 10 minutes apart", // 23:50, then 00:00
		"0 0-23 * * *":           "",                       // hourly
		"* * *":                  "5-field",
		"0 * * * * *":            "5-field",
		"60 * * * *":             "minute: 60 is outside 0-59",
		"0 24 * * *":             "hour: 24 is outside 0-23",
		"0 0 0 * *":              "day-of-month: 0 is outside 1-31",
		"0 0 * 13 *":             "month: 13 is outside 1-12",
		"0 0 * * 8":              "day-of-week: 8 is outside 0-7",
		"0 0 * * funday":         `day-of-week: "funday" is not a value`,
		"0 0 * foo *":            `month: "foo" is not a value`,
		"0 5-2 * * *":            "ends before it starts",
		"*/0 * * * *":            "bad step",
		"*/x * * * *":            "bad step",
		"0 0 30 2 *":             "never fires",
		"0 0 31 4,6,9,11 *":      "never fires",
		"0 0 1-2-3 * *":          "not a value",
		"0,,15 * * * *":          "not a value",
		"-5 * * * *":             "not a value",
		"+5 * * * *":             "not a value",
		"CRON_TZ=UTC 0 * * * *":  "5-field",
		"0 * * * * # a comment":  "5-field",
		"0 0 1/0 * *":            "bad step",
		"0 0 * * mon-fri-sat":    "not a value",
		"0 0 * * 1/":             "bad step",
		"0 0 * * 3/2/1":          "bad step",
		"0 0 * jan-dec/13 *":     "bad step",
		"0 0 * * monday":         "not a value",
		"0 0 * * *, 0 12 * * *":  "5-field",
		"0\t0 * * *\t0 0 * * *":  "5-field",
		"1h ":                    "", // trimmed
		"0 0 * * 7,0":            "",
		"0 0 L * *":              "not a value",
		"0 0 ? * *":              "not a value",
		"0 0 * * 1#2":            "not a value",
		"0 0 15W * *":            "not a value",
		"0 0 * * 5L":             "not a value",
		"@yearly 0":              "unknown shorthand",
		"0 0 1 1 * 2027":         "5-field",
		"0 0 0/0 * *":            "bad step",
		"0 0 1-31/0 * *":         "bad step",
		"0 0 */32 * *":           "bad step",
		"0 0 1-32 * *":           "outside 1-31",
		"0 0 1,32 * *":           "outside 1-31",
		"0 0 * * 0-8":            "outside 0-7",
		"0 0 * 0 *":              "outside 1-12",
		"0 0 * * sun-sat/0":      "bad step",
		"x":                      "neither an interval",
		"1":                      "neither an interval",
		"1d":                     "neither an interval",
		"15":                     "neither an interval",
		"9999999999999999999h":   "neither an interval",
		"0 0 * * * ":             "", // trailing space
		"0 0 * *":                "5-field",
		"0 0 * * 1 ":             "",
		"0 0 99999999999999 * *": "outside 1-31",
	} {
		_, err := ParseSchedule(spec)
		if msg == "" {
			require.NoError(t, err, spec)
			continue
		}
		require.Error(t, err, "%q should be refused", spec)
		require.ErrorContains(t, err, msg, spec)
	}
}

// TestParseScheduleTotal feeds odd input: never a panic.
func TestParseScheduleTotal(t *testing.T) {
	pieces := []string{"*", "/", "-", ",", "0", "59", "60", "7", "jan", "sun", "@", " ", "\t", "h", "m", "1", "x", "99999999999999999999"}
	for i := range 20000 {
		spec := ""
		for n := i; n > 0; n /= len(pieces) {
			spec += pieces[n%len(pieces)]
		}
		_, _ = ParseSchedule(spec)
	}
}

func FuzzParseSchedule(f *testing.F) {
	for _, s := range []string{"1h", "*/15 * * * *", "0 0 30 2 *", "@daily", "15 */2 * * MON-FRI"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		s, err := ParseSchedule(spec)
		if err != nil {
			return
		}
		if (s.Interval == 0) == (s.Cron == "") {
			t.Fatalf("%q parsed to %+v: exactly one of Interval and Cron must be set", spec, s)
		}
		if s.Interval != 0 && (s.Interval < MinSyncInterval || s.Interval > MaxSyncInterval) {
			t.Fatalf("%q parsed to an interval out of bounds: %s", spec, s.Interval)
		}
		if s.Cron != "" {
			// The normalized form parses to itself.
			again, err := ParseSchedule(s.Cron)
			if err != nil || again != s {
				t.Fatalf("%q normalized to %q, which parses to %+v, %v", spec, s.Cron, again, err)
			}
		}
	})
}
