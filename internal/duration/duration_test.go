package duration_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/duration"
	"github.com/gavelbot/gavel/internal/input"
)

func TestParse(t *testing.T) {
	good := map[string]time.Duration{
		"90m":                90 * time.Minute,
		"1w2d3h":             duration.Week + 2*duration.Day + 3*time.Hour,
		"1.5h":               90 * time.Minute,
		"2 weeks":            2 * duration.Week,
		"2 weeks, 3 days":    2*duration.Week + 3*duration.Day,
		"1 day and 12 hours": 36 * time.Hour,
		"1D":                 duration.Day,
		"1d 2h":              26 * time.Hour,
		"1mo":                duration.Month,
		"1y":                 duration.Year,
		"30s":                30 * time.Second,
		"  7 DAYS ":          7 * duration.Day,
		"1h30m15s":           time.Hour + 30*time.Minute + 15*time.Second,
		"0.5m":               30 * time.Second,
		"28d":                28 * duration.Day,
		"1m":                 time.Minute,
		"10 min":             10 * time.Minute,
		"1h-30m":             30 * time.Minute,
		"1d - 2h":            22 * time.Hour,
		"2 weeks -1 day":     13 * duration.Day,
		"1 day 12 hours":     36 * time.Hour,
		"45 days":            45 * duration.Day,
	}
	for in, want := range good {
		got, err := duration.Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	bad := map[string]string{
		"":                            "it is empty",
		"90":                          "has no unit",
		"-1d":                         "negative",
		"0s":                          "shorter than one second",
		"0.1s":                        "shorter than one second",
		"1x":                          `unknown unit "x"`,
		"d":                           "expected a number",
		"1..5h":                       "is not a number",
		"1.h":                         "is not a number",
		"1h-2h":                       "less than nothing",
		"1h-1h":                       "shorter than one second",
		"1h-":                         "a number must follow the minus",
		"1h--30m":                     "two minus signs",
		"- 1h":                        "negative",
		"101y-2y":                     "longer than 100 years",
		"101y":                        "longer than 100 years",
		"99999999999999999999999999d": "longer than 100 years",
		"1 fortnight":                 `unknown unit "fortnight"`,
		"and 1d":                      "expected a number",
		"1d?":                         `expected a number at "?"`,
	}
	for in, want := range bad {
		_, err := duration.Parse(in)
		if err == nil || !errors.Is(err, duration.ErrInvalid) || !errors.Is(err, input.ErrInvalid) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "accepted: a number and a unit") {
			t.Errorf("Parse(%q) error = %v; want one containing %q and the accepted forms", in, err, want)
		}
	}
}

func TestFormat(t *testing.T) {
	for d, want := range map[time.Duration]string{
		90 * time.Minute: "1 hour 30 minutes",
		duration.Week + 2*duration.Day + 3*time.Hour: "9 days 3 hours",
		// The case: not "1mo 2w 1d".
		45 * duration.Day:              "45 days",
		28 * duration.Day:              "4 weeks",
		duration.Day:                   "1 day",
		45 * time.Second:               "45 seconds",
		time.Hour + time.Second:        "1 hour 1 second",
		duration.Year:                  "1 year",
		duration.Year + duration.Month: "395 days",
		0:                              "0 seconds",
	} {
		if got := duration.Format(d); got != want {
			t.Errorf("Format(%v) = %q, want %q", d, got, want)
		}
	}
	for d, want := range map[time.Duration]string{
		90 * time.Minute:  "1h 30m",
		45 * duration.Day: "45d",
		2 * duration.Week: "2w",
		36 * time.Hour:    "1d 12h",
		0:                 "0s",
	} {
		if got := duration.Short(d); got != want {
			t.Errorf("Short(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestBounds(t *testing.T) {
	timeout := duration.Bounds{Min: time.Minute, Max: 28 * duration.Day}
	if _, err := duration.ParseWithin("29d", timeout); err == nil || err.Error() != "29 days is too long: the longest accepted is 4 weeks" {
		t.Errorf("29d: %v", err)
	}
	if _, err := duration.ParseWithin("30s", timeout); err == nil || err.Error() != "30 seconds is too short: the shortest accepted is 1 minute" {
		t.Errorf("30s: %v", err)
	}
	if d, err := duration.ParseWithin("2w", timeout); err != nil || d != 2*duration.Week {
		t.Errorf("2w: %v %v", d, err)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"1w2d3h", "90m", "1.5h", "2 weeks", "1 day and 12 hours", "-1d", "1e9y", "", "0.0000001s", "1d,,2h",
		"1h-30m", "1d - 2h - 3m", "1h-2h", "99y-1s", "45 days"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := duration.Parse(s)
		if err != nil {
			if !errors.Is(err, duration.ErrInvalid) {
				t.Fatalf("Parse(%q): error %v is not ErrInvalid", s, err)
			}
			return
		}
		if d < time.Second || d > duration.Max || d%time.Second != 0 {
			t.Fatalf("Parse(%q) = %v: out of range or not whole seconds", s, d)
		}
		// What Format and Short write, Parse reads back to the same duration.
		for _, text := range []string{duration.Format(d), duration.Short(d)} {
			back, err := duration.Parse(text)
			if err != nil || back != d {
				t.Fatalf("Parse(%q) (written for %v) = %v, %v", text, d, back, err)
			}
		}
		// A minus only ever shortens: with a subtracted part dropped, the duration is longer.
		if i := strings.LastIndex(s, "-"); i > 0 && !strings.Contains(s[:i], "-") {
			if whole, err := duration.Parse(s[:i]); err == nil && whole < d {
				t.Fatalf("Parse(%q) = %v, longer than its first part %q = %v", s, d, s[:i], whole)
			}
		}
	})
}
