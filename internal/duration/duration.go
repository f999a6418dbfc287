// Package duration is the one parser of the durations moderators type, used by every
// command: "1w2d3h", "90m", "1.5h", "2 weeks", "1 day, 12 hours".
package duration

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/gavelbot/gavel/internal/input"
)

// Day, Week, Month and Year are the calendar-free lengths moderators mean: a month is 30
// days and a year 365, so "1mo" is the same length whenever it is typed.
const (
	Day   = 24 * time.Hour
	Week  = 7 * Day
	Month = 30 * Day
	Year  = 365 * Day
)

// Max is the longest duration accepted at all (about 100 years): anything longer is a typo.
const Max = 100 * Year

// ErrInvalid is matched by every parse error, as is input.ErrInvalid.
var ErrInvalid = errors.New("invalid duration")

// Accepted describes the grammar, for error messages and help texts.
const Accepted = "a number and a unit, like 90m, 1.5h, 1w2d3h or 2 weeks (units: s, m, h, d, w, mo, y)"

type parseError struct{ msg string }

func (e *parseError) Error() string { return e.msg }
func (e *parseError) Is(target error) bool {
	return target == ErrInvalid || target == input.ErrInvalid
}

func fail(text, problem string) error {
	return &parseError{msg: fmt.Sprintf("%q is not a duration: %s; accepted: %s", text, problem, Accepted)}
}

// units maps every accepted unit name to its length. "m" is minutes, as moderators mean it;
// months are "mo".
func unit(name string) (time.Duration, bool) {
	switch name {
	case "s", "sec", "secs", "second", "seconds":
		return time.Second, true
	case "m", "min", "mins", "minute", "minutes":
		return time.Minute, true
	case "h", "hr", "hrs", "hour", "hours":
		return time.Hour, true
	case "d", "day", "days":
		return Day, true
	case "w", "wk", "wks", "week", "weeks":
		return Week, true
	case "mo", "mon", "month", "months":
		return Month, true
	case "y", "yr", "yrs", "year", "years":
		return Year, true
	}
	return 0, false
}

// Parse reads a duration: one or more parts, each a positive number (a decimal fraction is
// allowed) followed by a unit, separated by nothing, spaces, commas or "and". Letter case
// does not matter. The result is whole seconds, at least one second and at most Max.
func Parse(s string) (time.Duration, error) {
	in := strings.ToLower(strings.TrimSpace(s))
	if in == "" {
		return 0, fail(s, "it is empty")
	}
	if len(in) > 100 {
		return 0, fail(s[:20]+"…", "it is longer than 100 characters")
	}
	var total float64 // seconds; float so that overflow is detected, not wrapped
	parts := 0
	i := 0
	for i < len(in) {
		// Separators between parts.
		for i < len(in) && (in[i] == ' ' || in[i] == ',') {
			i++
		}
		if strings.HasPrefix(in[i:], "and ") && parts > 0 {
			i += 4
			continue
		}
		if i == len(in) {
			break
		}
		start := i
		for i < len(in) && (in[i] >= '0' && in[i] <= '9' || in[i] == '.') {
			i++
		}
		num := in[start:i]
		if num == "" {
			if in[i] == '-' {
				return 0, fail(s, "it is negative")
			}
			return 0, fail(s, fmt.Sprintf("expected a number at %q", in[start:]))
		}
		if strings.Count(num, ".") > 1 || num[0] == '.' || num[len(num)-1] == '.' {
			return 0, fail(s, fmt.Sprintf("%q is not a number", num))
		}
		v, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return 0, fail(s, fmt.Sprintf("%q is not a number", num))
		}
		for i < len(in) && in[i] == ' ' {
			i++
		}
		ustart := i
		for i < len(in) && in[i] < unicode.MaxASCII && unicode.IsLetter(rune(in[i])) {
			i++
		}
		name := in[ustart:i]
		if name == "" {
			if i == len(in) {
				return 0, fail(s, fmt.Sprintf("%q has no unit", num))
			}
			return 0, fail(s, fmt.Sprintf("unexpected %q", in[i:]))
		}
		u, ok := unit(name)
		if !ok {
			return 0, fail(s, fmt.Sprintf("unknown unit %q", name))
		}
		total += v * u.Seconds()
		parts++
		if total > Max.Seconds() {
			return 0, fail(s, "it is longer than 100 years")
		}
	}
	if parts == 0 {
		return 0, fail(s, "it has no number")
	}
	secs := math.Floor(total)
	if secs < 1 {
		return 0, fail(s, "it is shorter than one second")
	}
	return time.Duration(secs) * time.Second, nil
}

// Format writes d the way Parse reads it, largest units first: "1w 2d 3h", "90m" stays
// "1h 30m". Seconds below a minute are shown only when the duration is under an hour.
func Format(d time.Duration) string {
	if d < time.Second {
		return "0s"
	}
	d = d.Truncate(time.Second)
	type u struct {
		name string
		len  time.Duration
	}
	var parts []string
	for _, x := range []u{{"y", Year}, {"mo", Month}, {"w", Week}, {"d", Day}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}} {
		if x.len == time.Second && len(parts) > 0 && d < time.Second {
			break
		}
		if n := d / x.len; n > 0 {
			parts = append(parts, strconv.FormatInt(int64(n), 10)+x.name)
			d -= n * x.len
		}
	}
	return strings.Join(parts, " ")
}

// Bounds are a command's limits on a duration.
type Bounds struct {
	Min, Max time.Duration
}

// Check says whether d is within b, naming the bound it breaks.
func (b Bounds) Check(d time.Duration) error {
	if b.Min > 0 && d < b.Min {
		return &parseError{msg: fmt.Sprintf("%s is too short: the shortest accepted is %s", Format(d), Format(b.Min))}
	}
	if b.Max > 0 && d > b.Max {
		return &parseError{msg: fmt.Sprintf("%s is too long: the longest accepted is %s", Format(d), Format(b.Max))}
	}
	return nil
}

// ParseWithin parses s and checks it against b.
func ParseWithin(s string, b Bounds) (time.Duration, error) {
	d, err := Parse(s)
	if err != nil {
		return 0, err
	}
	return d, b.Check(d)
}
