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
const Accepted = "a number and a unit, like 90m, 1.5h, 1w2d3h, 1h-15m or 2 weeks (units: s, m, h, d, w, mo, y)"

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
// allowed) followed by a unit, separated by nothing, spaces, commas or "and". A minus
// between parts subtracts the part after it ("1h-30m" is 30 minutes). Letter case does not
// matter. The result is whole seconds, at least one second and at most Max.
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
		// A minus between parts subtracts the next one ("1h-30m" is 30 minutes, as a
		// moderator writing it means); before the first part it makes the whole negative.
		sign := 1.0
		if in[i] == '-' {
			if parts == 0 {
				return 0, fail(s, "it is negative")
			}
			sign = -1
			i++
			for i < len(in) && in[i] == ' ' {
				i++
			}
			if i == len(in) {
				return 0, fail(s, "a number must follow the minus")
			}
		}
		start := i
		for i < len(in) && (in[i] >= '0' && in[i] <= '9' || in[i] == '.') {
			i++
		}
		num := in[start:i]
		if num == "" {
			if in[i] == '-' {
				return 0, fail(s, "it has two minus signs in a row")
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
		total += sign * v * u.Seconds()
		parts++
		// Checked after each part: a later subtraction must not rescue an overflow.
		if total > Max.Seconds() {
			return 0, fail(s, "it is longer than 100 years")
		}
	}
	if parts == 0 {
		return 0, fail(s, "it has no number")
	}
	if total < 0 {
		return 0, fail(s, "it comes to less than nothing (the parts after a minus are longer than the ones before)")
	}
	secs := math.Floor(total)
	if secs < 1 {
		return 0, fail(s, "it is shorter than one second")
	}
	return time.Duration(secs) * time.Second, nil
}

// Format writes d for people, in the units moderators count in: "45 days", "2 weeks",
// "1 day 12 hours", "1 hour 30 minutes". Days, hours, minutes and seconds; a duration of
// whole weeks (or whole 365-day years) is said in weeks (years), any other in days, since
// "6w 3d" makes a reader multiply and months are not a length anyone agrees on. Parse
// reads it back to the same duration.
func Format(d time.Duration) string {
	return format(d, func(n int64, u unitName) string {
		name := u.long
		if n != 1 {
			name += "s"
		}
		return strconv.FormatInt(n, 10) + " " + name
	})
}

// Short writes d as Format does, with the units' letters: "45d", "2w", "1d 12h", "1h 30m";
// for files and narrow places. Parse reads it back.
func Short(d time.Duration) string {
	return format(d, func(n int64, u unitName) string { return strconv.FormatInt(n, 10) + u.short })
}

type unitName struct {
	short, long string
	len         time.Duration
}

func format(d time.Duration, write func(n int64, u unitName) string) string {
	if d < time.Second {
		return write(0, unitName{"s", "second", time.Second})
	}
	d = d.Truncate(time.Second)
	for _, whole := range []unitName{{"y", "year", Year}, {"w", "week", Week}} {
		if d%whole.len == 0 {
			return write(int64(d/whole.len), whole)
		}
	}
	var parts []string
	for _, u := range []unitName{{"d", "day", Day}, {"h", "hour", time.Hour}, {"m", "minute", time.Minute}, {"s", "second", time.Second}} {
		if n := d / u.len; n > 0 {
			parts = append(parts, write(int64(n), u))
			d -= n * u.len
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
