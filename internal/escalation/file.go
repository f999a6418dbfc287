package escalation

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/BurntSushi/toml"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/duration"
	"github.com/gavelbot/gavel/internal/input"
)

// ErrFile is matched by every error ParseFile returns.
var ErrFile = errors.New("invalid escalation file")

type fileError struct{ msg string }

func (e *fileError) Error() string        { return e.msg }
func (e *fileError) Is(target error) bool { return target == ErrFile }

// MaxFileBytes bounds a settings file.
const MaxFileBytes = 256 << 10

type fileDoc struct {
	CountsFor string       `toml:"counts_for,omitempty"`
	Weight    []fileWeight `toml:"weight"`
	Reason    []fileReason `toml:"reason"`
	Policy    []filePolicy `toml:"policy"`
}

type fileWeight struct {
	Type      string `toml:"type"`
	Points    *int   `toml:"points"`
	CountsFor string `toml:"counts_for,omitempty"`
}

type fileReason struct {
	Match     string `toml:"match"`
	Points    *int   `toml:"points,omitempty"`
	CountsFor string `toml:"counts_for,omitempty"`
}

type filePolicy struct {
	Name      string          `toml:"name"`
	Enabled   *bool           `toml:"enabled,omitempty"`
	Threshold []fileThreshold `toml:"threshold"`
}

type fileThreshold struct {
	At         *int   `toml:"at"`
	Action     string `toml:"action"`
	Duration   string `toml:"duration,omitempty"`
	ResetBelow *int   `toml:"reset_below,omitempty"`
	Approval   *bool  `toml:"approval,omitempty"`
}

const acceptedKeys = "accepted: counts_for; [[weight]] with type, points, counts_for; [[reason]] with match, points, counts_for; " +
	"[[policy]] with name, enabled and [[policy.threshold]] with at, action, duration, reset_below, approval"

// ParseFile reads a guild's escalation settings as a TOML file (docs/escalation.md, "The
// file"). It refuses unknown keys, and anything Config.Validate refuses; every problem is
// reported, TOML syntax errors at their line and column. The error matches ErrFile.
func ParseFile(data []byte) (Config, error) {
	if len(data) > MaxFileBytes {
		return Config{}, &fileError{msg: fmt.Sprintf("escalation file: %d bytes; at most %d are accepted", len(data), MaxFileBytes)}
	}
	if !utf8.Valid(data) {
		return Config{}, &fileError{msg: "escalation file: not UTF-8 text"}
	}
	var doc fileDoc
	md, err := toml.Decode(string(data), &doc)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return Config{}, &fileError{msg: fmt.Sprintf("escalation file: %s: %s", errorPlace(data, pe.Position), pe.Message)}
		}
		return Config{}, &fileError{msg: fmt.Sprintf("escalation file: %v", err)}
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return Config{}, &fileError{msg: fmt.Sprintf("escalation file: unknown keys %s; %s", strings.Join(keys, ", "), acceptedKeys)}
	}
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	dur := func(where, s string) time.Duration {
		if s == "" {
			return 0
		}
		d, err := duration.Parse(s)
		if err != nil {
			add("%s: %q is not a duration; write %s", where, s, duration.Accepted)
		}
		return d
	}
	var c Config
	c.CountsFor = dur("counts_for", doc.CountsFor)
	for i, w := range doc.Weight {
		where := fmt.Sprintf("weight %d", i+1)
		t, err := cases.ParseType(w.Type)
		if err != nil {
			add("%s: type %q is not a case type; accepted: %s", where, w.Type, typeNames())
			continue
		}
		if w.Points == nil {
			add("%s (%s): points is missing; give 0 to %d", where, w.Type, MaxPoints)
			continue
		}
		c.Weights = append(c.Weights, Weight{Type: t, Points: *w.Points, CountsFor: dur(where+": counts_for", w.CountsFor)})
	}
	for i, r := range doc.Reason {
		c.Reasons = append(c.Reasons, ReasonWeight{Match: r.Match, Points: r.Points, CountsFor: dur(fmt.Sprintf("reason %d: counts_for", i+1), r.CountsFor)})
	}
	for i, p := range doc.Policy {
		pol := Policy{Name: p.Name, Enabled: p.Enabled != nil && *p.Enabled}
		for j, t := range p.Threshold {
			where := fmt.Sprintf("policy %d (%q), threshold %d", i+1, p.Name, j+1)
			if t.At == nil {
				add("%s: at is missing; give 1 to %d points", where, MaxPoints)
				continue
			}
			a, err := ParseAction(t.Action)
			if err != nil {
				add("%s: action %q is not accepted; accepted: timeout, tempban, kick, ban, jail", where, t.Action)
				continue
			}
			th := Threshold{At: *t.At, Action: a, Duration: dur(where+": duration", t.Duration), Approval: t.Approval}
			if t.ResetBelow != nil {
				th.ResetBelow = *t.ResetBelow
				if th.ResetBelow == 0 {
					add("%s: reset_below 0 is out of range; accepted: 1 to the threshold", where)
				}
			}
			pol.Thresholds = append(pol.Thresholds, th)
		}
		c.Policies = append(c.Policies, pol)
	}
	if len(problems) == 0 {
		if err := c.Validate(); err != nil {
			var msg string
			if inv := asInvalid(err); inv != "" {
				msg = inv
			} else {
				msg = err.Error()
			}
			problems = append(problems, strings.Split(msg, "; ")...)
		}
	}
	if len(problems) > 0 {
		return Config{}, &fileError{msg: "escalation file: " + strings.Join(problems, "\n")}
	}
	return c, nil
}

// Encode writes c as a settings file that ParseFile reads back to the same settings.
func (c Config) Encode() ([]byte, error) {
	var doc fileDoc
	if c.CountsFor > 0 {
		doc.CountsFor = duration.Format(c.CountsFor)
	}
	for _, w := range c.Weights {
		p := w.Points
		fw := fileWeight{Type: strings.ToLower(string(w.Type)), Points: &p}
		if w.CountsFor > 0 {
			fw.CountsFor = duration.Format(w.CountsFor)
		}
		doc.Weight = append(doc.Weight, fw)
	}
	for _, r := range c.Reasons {
		fr := fileReason{Match: r.Match, Points: r.Points}
		if r.CountsFor > 0 {
			fr.CountsFor = duration.Format(r.CountsFor)
		}
		doc.Reason = append(doc.Reason, fr)
	}
	for _, p := range c.Policies {
		on := p.Enabled
		fp := filePolicy{Name: p.Name, Enabled: &on}
		for _, t := range p.Thresholds {
			at := t.At
			ft := fileThreshold{At: &at, Action: string(t.Action), Approval: t.Approval}
			if t.Duration > 0 {
				ft.Duration = duration.Format(t.Duration)
			}
			if t.ResetBelow != 0 {
				r := t.ResetBelow
				ft.ResetBelow = &r
			}
			fp.Threshold = append(fp.Threshold, ft)
		}
		doc.Policy = append(doc.Policy, fp)
	}
	var b bytes.Buffer
	b.WriteString("# gavel escalation settings (docs/escalation.md). Apply with `gavel escalation apply`.\n")
	if err := toml.NewEncoder(&b).Encode(doc); err != nil {
		return nil, fmt.Errorf("encode the escalation settings: %w", err)
	}
	return b.Bytes(), nil
}

// Plan is what applying a file would change, in words, one line each.
type Plan struct {
	Changes []string
	// From is the settings' version the plan was made from; applying it refuses when they
	// changed since (ErrStale).
	From int64
}

// Empty says the file matches the settings.
func (p Plan) Empty() bool { return len(p.Changes) == 0 }

func (p Plan) String() string {
	if p.Empty() {
		return "no changes\n"
	}
	return strings.Join(p.Changes, "\n") + "\n"
}

// MakePlan compares the settings from with the file's, field by field.
func MakePlan(cur, next Config, version int64) Plan {
	p := Plan{From: version}
	add := func(format string, args ...any) { p.Changes = append(p.Changes, fmt.Sprintf(format, args...)) }
	if cur.CountsFor != next.CountsFor {
		add("~ counts_for: %s → %s", countsText(cur.CountsFor), countsText(next.CountsFor))
	}
	for _, w := range next.Weights {
		i := slices.IndexFunc(cur.Weights, func(x Weight) bool { return x.Type == w.Type })
		switch {
		case i < 0:
			add("+ weight %s: %s", strings.ToLower(string(w.Type)), weightText(w))
		case cur.Weights[i] != w:
			add("~ weight %s: %s → %s", strings.ToLower(string(w.Type)), weightText(cur.Weights[i]), weightText(w))
		}
	}
	for _, w := range cur.Weights {
		if !slices.ContainsFunc(next.Weights, func(x Weight) bool { return x.Type == w.Type }) {
			add("- weight %s: %s", strings.ToLower(string(w.Type)), weightText(w))
		}
	}
	if !equalJSON(cur.Reasons, next.Reasons) {
		add("~ reasons: %s → %s", reasonsText(cur.Reasons), reasonsText(next.Reasons))
	}
	for _, np := range next.Policies {
		cp, ok := cur.Policy(np.Name)
		if !ok {
			add("+ policy %s (%s): %s", np.Name, onOff(np.Enabled), thresholdsText(np.Thresholds))
			continue
		}
		if cp.Enabled != np.Enabled {
			add("~ policy %s: %s → %s", np.Name, onOff(cp.Enabled), onOff(np.Enabled))
		}
		for _, t := range np.Thresholds {
			i := slices.IndexFunc(cp.Thresholds, func(x Threshold) bool { return x.At == t.At })
			switch {
			case i < 0:
				add("+ policy %s at %d: %s", np.Name, t.At, thresholdText(t))
			case thresholdText(cp.Thresholds[i]) != thresholdText(t):
				add("~ policy %s at %d: %s → %s", np.Name, t.At, thresholdText(cp.Thresholds[i]), thresholdText(t))
			}
		}
		for _, t := range cp.Thresholds {
			if !slices.ContainsFunc(np.Thresholds, func(x Threshold) bool { return x.At == t.At }) {
				add("- policy %s at %d: %s", np.Name, t.At, thresholdText(t))
			}
		}
	}
	for _, cp := range cur.Policies {
		if _, ok := next.Policy(cp.Name); !ok {
			add("- policy %s", cp.Name)
		}
	}
	return p
}

func countsText(d time.Duration) string {
	if d == 0 {
		return "default (" + duration.Format(DefaultCountsFor) + ")"
	}
	return duration.Format(d)
}

func weightText(w Weight) string {
	s := fmt.Sprintf("%d points", w.Points)
	if w.CountsFor > 0 {
		s += " for " + duration.Format(w.CountsFor)
	}
	return s
}

func reasonsText(rs []ReasonWeight) string {
	if len(rs) == 0 {
		return "none"
	}
	var out []string
	for _, r := range rs {
		s := fmt.Sprintf("%q", r.Match)
		if r.Points != nil {
			s += fmt.Sprintf(" %d points", *r.Points)
		}
		if r.CountsFor > 0 {
			s += " for " + duration.Format(r.CountsFor)
		}
		out = append(out, s)
	}
	return strings.Join(out, ", ")
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func thresholdText(t Threshold) string {
	s := t.Describe()
	if t.Reset() != t.At {
		s += fmt.Sprintf(", re-arms below %d", t.Reset())
	}
	if t.NeedsApproval() {
		s += ", needs approval"
	}
	return s
}

func thresholdsText(ts []Threshold) string {
	var out []string
	for _, t := range ts {
		out = append(out, fmt.Sprintf("%d → %s", t.At, thresholdText(t)))
	}
	return strings.Join(out, "; ")
}

// errorPlace says where a TOML error is: "line L, column C".
func errorPlace(data []byte, p toml.Position) string {
	lineStart := 0
	for line := 1; line < p.Line; line++ {
		i := bytes.IndexByte(data[lineStart:], '\n')
		if i < 0 {
			return fmt.Sprintf("line %d", p.Line)
		}
		lineStart += i + 1
	}
	lineEnd := len(data)
	if i := bytes.IndexByte(data[lineStart:], '\n'); i >= 0 {
		lineEnd = lineStart + i
	}
	if p.Start < lineStart || p.Start > lineEnd {
		return fmt.Sprintf("line %d", p.Line)
	}
	return fmt.Sprintf("line %d, column %d", p.Line, utf8.RuneCount(data[lineStart:p.Start])+1)
}

// asInvalid is the problem an *input.InvalidError states, or "" for another error: ParseFile
// lists Validate's problems one per line.
func asInvalid(err error) string {
	var inv *input.InvalidError
	if errors.As(err, &inv) {
		return inv.Problem
	}
	return ""
}
