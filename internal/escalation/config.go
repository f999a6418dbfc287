// Package escalation turns a member's accumulated points into automatic actions. Points live
// on cases (case_points: how many, and until when they count); a member's points are the
// sum over their active cases whose points still count, read from the case log whenever
// needed. A guild's policies name thresholds on that sum; a threshold fires once when a new
// case takes the member across it, and re-arms when their points fall below its reset level.
// The action a firing takes is a case of its own, carried out through the moderation
// pipeline like any other (see Runner).
package escalation

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gavelbot/gavel/internal/cases"
	"github.com/gavelbot/gavel/internal/duration"
	"github.com/gavelbot/gavel/internal/input"
)

// Limits of a guild's escalation settings.
const (
	MaxPolicies   = 10
	MaxThresholds = 10
	MaxPoints     = 100
	MaxReasons    = 25
	MaxMatch      = 100
	MaxNameLength = 32
	// DefaultCountsFor is how long a case's points count when nothing else says.
	DefaultCountsFor = 30 * duration.Day
	// MinCountsFor and MaxCountsFor bound how long points count.
	MinCountsFor = time.Hour
	MaxCountsFor = 10 * duration.Year
	// ApprovalWait is how long a firing waits for a moderator's approval before it expires.
	ApprovalWait = 24 * time.Hour
)

// Action is what a threshold does.
type Action string

// The actions a threshold may take.
const (
	Timeout Action = "timeout"
	Tempban Action = "tempban"
	Kick    Action = "kick"
	Ban     Action = "ban"
	Jail    Action = "jail"
)

// Actions lists the actions from the mildest to the harshest: the order that decides which
// one runs when several thresholds are crossed at once.
func Actions() []Action { return []Action{Timeout, Jail, Kick, Tempban, Ban} }

// ParseAction accepts an action name in any letter case.
func ParseAction(s string) (Action, error) {
	a := Action(strings.ToLower(strings.TrimSpace(s)))
	if slices.Contains(Actions(), a) {
		return a, nil
	}
	return "", input.Invalid("action", fmt.Sprintf("%q is not an escalation action; accepted: timeout, tempban, kick, ban, jail", s))
}

// severity orders the actions (see Actions).
func (a Action) severity() int { return slices.Index(Actions(), a) }

// Bounds are the durations an action accepts; Max is zero for an action that takes none.
func (a Action) Bounds() (b duration.Bounds, required bool) {
	switch a {
	case Timeout:
		return duration.Bounds{Min: time.Minute, Max: 28 * duration.Day}, true
	case Tempban:
		return duration.Bounds{Min: time.Minute, Max: 10 * duration.Year}, true
	case Jail:
		return duration.Bounds{Min: time.Minute, Max: 10 * duration.Year}, false
	}
	return duration.Bounds{}, false
}

// Case is the case type the action records.
func (a Action) Case() cases.Type {
	switch a {
	case Timeout:
		return cases.Timeout
	case Tempban:
		return cases.Tempban
	case Kick:
		return cases.Kick
	case Ban:
		return cases.Ban
	}
	return cases.Jail
}

// Threshold is one level of a policy.
type Threshold struct {
	// At is the number of points that fires it (1 to 100).
	At     int    `json:"at"`
	Action Action `json:"action"`
	// Duration is how long a timeout, tempban or jail lasts (zero: a jail without end).
	Duration time.Duration `json:"duration,omitempty"`
	// ResetBelow re-arms the threshold once the member's points fall below it; zero means At.
	ResetBelow int `json:"reset_below,omitempty"`
	// Approval says a moderator must approve the action before it runs. Nil takes the
	// default: yes for kick and ban.
	Approval *bool `json:"approval,omitempty"`
}

// Reset is the level below which the threshold re-arms.
func (t Threshold) Reset() int {
	if t.ResetBelow == 0 {
		return t.At
	}
	return t.ResetBelow
}

// NeedsApproval says whether the action waits for a moderator.
func (t Threshold) NeedsApproval() bool {
	if t.Approval != nil {
		return *t.Approval
	}
	return t.Action == Kick || t.Action == Ban
}

// Describe is the threshold's action in words: "timeout for 1 hour", "ban".
func (t Threshold) Describe() string {
	s := string(t.Action)
	if t.Duration > 0 {
		s += " for " + duration.Format(t.Duration)
	}
	return s
}

// Policy is a named set of thresholds on the member's points.
type Policy struct {
	Name       string      `json:"name"`
	Enabled    bool        `json:"enabled"`
	Thresholds []Threshold `json:"thresholds"`
}

// Weight gives every case of a type its points.
type Weight struct {
	Type   cases.Type `json:"type"`
	Points int        `json:"points"`
	// CountsFor overrides how long the points count (zero: the guild's default).
	CountsFor time.Duration `json:"counts_for,omitempty"`
}

// ReasonWeight gives the cases whose reason contains Match (in any letter case) their
// points, instead of their type's; the first that matches wins.
type ReasonWeight struct {
	Match string `json:"match"`
	// Points is nil to keep the type's points and change only how long they count.
	Points    *int          `json:"points,omitempty"`
	CountsFor time.Duration `json:"counts_for,omitempty"`
}

// Config is a guild's escalation settings.
type Config struct {
	// CountsFor is how long points count by default (zero: 30 days).
	CountsFor time.Duration  `json:"counts_for,omitempty"`
	Weights   []Weight       `json:"weights,omitempty"`
	Reasons   []ReasonWeight `json:"reasons,omitempty"`
	Policies  []Policy       `json:"policies,omitempty"`
}

// Preset is the escalation gavel offers ready to enable: warn 1 point, timeout 2, kick 3;
// at 3 a 1-hour timeout, at 5 a 24-hour one, at 7 a 7-day tempban and at 10 a ban, the
// last two after a moderator approves.
func Preset() Config {
	yes := true
	return Config{
		Weights: []Weight{{Type: cases.Warn, Points: 1}, {Type: cases.Timeout, Points: 2}, {Type: cases.Kick, Points: 3}},
		Policies: []Policy{{Name: PresetName, Thresholds: []Threshold{
			{At: 3, Action: Timeout, Duration: time.Hour},
			{At: 5, Action: Timeout, Duration: 24 * time.Hour},
			{At: 7, Action: Tempban, Duration: 7 * duration.Day, Approval: &yes},
			{At: 10, Action: Ban},
		}}},
	}
}

// PresetName is the preset policy's name.
const PresetName = "preset"

// Enabled are the policies that fire.
func (c Config) Enabled() []Policy {
	var out []Policy
	for _, p := range c.Policies {
		if p.Enabled {
			out = append(out, p)
		}
	}
	return out
}

// Policy returns the policy named name (in any letter case).
func (c *Config) Policy(name string) (*Policy, bool) {
	for i := range c.Policies {
		if strings.EqualFold(c.Policies[i].Name, name) {
			return &c.Policies[i], true
		}
	}
	return nil, false
}

// Empty says the guild gives no case any points: nothing to record or evaluate.
func (c Config) Empty() bool {
	if len(c.Policies) > 0 {
		return false
	}
	for _, w := range c.Weights {
		if w.Points > 0 {
			return false
		}
	}
	for _, r := range c.Reasons {
		if r.Points != nil && *r.Points > 0 {
			return false
		}
	}
	return true
}

// PointsFor decides a new case's points and how long they count: an explicit value (an
// AutoMod rule's points) wins, then the first reason that matches, then the type's weight.
func (c Config) PointsFor(t cases.Type, reason string, explicit *int) (int, time.Duration) {
	points, countsFor := 0, time.Duration(0)
	for _, w := range c.Weights {
		if w.Type == t {
			points, countsFor = w.Points, w.CountsFor
			break
		}
	}
	low := strings.ToLower(reason)
	for _, r := range c.Reasons {
		if strings.Contains(low, strings.ToLower(r.Match)) {
			if r.Points != nil {
				points = *r.Points
			}
			if r.CountsFor > 0 {
				countsFor = r.CountsFor
			}
			break
		}
	}
	if explicit != nil {
		points = *explicit
	}
	if countsFor == 0 {
		countsFor = c.CountsFor
	}
	if countsFor == 0 {
		countsFor = DefaultCountsFor
	}
	return points, countsFor
}

// MaxAt is the highest threshold of the enabled policies (0 when none): "7/10 points".
func (c Config) MaxAt() int {
	m := 0
	for _, p := range c.Enabled() {
		for _, t := range p.Thresholds {
			m = max(m, t.At)
		}
	}
	return m
}

// Validate checks the whole configuration and says every problem, each with what is
// accepted.
func (c *Config) Validate() error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if c.CountsFor != 0 {
		if err := checkCountsFor(c.CountsFor); err != nil {
			add("counts_for: %s", err)
		}
	}
	seenType := map[cases.Type]bool{}
	for _, w := range c.Weights {
		if !w.Type.Valid() {
			add("points for %q: not a case type; accepted: %s", w.Type, typeNames())
			continue
		}
		if seenType[w.Type] {
			add("points for %s are given twice", w.Type)
		}
		seenType[w.Type] = true
		if w.Points < 0 || w.Points > MaxPoints {
			add("points for %s: %d is out of range; accepted: 0 to %d", w.Type, w.Points, MaxPoints)
		}
		if w.CountsFor != 0 {
			if err := checkCountsFor(w.CountsFor); err != nil {
				add("points for %s: %s", w.Type, err)
			}
		}
	}
	if len(c.Reasons) > MaxReasons {
		add("%d reasons; at most %d are accepted", len(c.Reasons), MaxReasons)
	}
	for i, r := range c.Reasons {
		m := strings.TrimSpace(r.Match)
		if m == "" || len([]rune(m)) > MaxMatch {
			add("reason %d: match must be 1 to %d characters", i+1, MaxMatch)
		}
		if r.Points != nil && (*r.Points < 0 || *r.Points > MaxPoints) {
			add("reason %q: %d points is out of range; accepted: 0 to %d", r.Match, *r.Points, MaxPoints)
		}
		if r.Points == nil && r.CountsFor == 0 {
			add("reason %q: give points, counts_for or both", r.Match)
		}
		if r.CountsFor != 0 {
			if err := checkCountsFor(r.CountsFor); err != nil {
				add("reason %q: %s", r.Match, err)
			}
		}
	}
	if len(c.Policies) > MaxPolicies {
		add("%d policies; at most %d are accepted", len(c.Policies), MaxPolicies)
	}
	names := map[string]bool{}
	for _, p := range c.Policies {
		if err := CheckName(p.Name); err != nil {
			add("%s", err.(*input.InvalidError).Problem)
			continue
		}
		if names[strings.ToLower(p.Name)] {
			add("two policies are named %q; names must differ", p.Name)
		}
		names[strings.ToLower(p.Name)] = true
		for _, prob := range p.problems() {
			add("policy %q: %s", p.Name, prob)
		}
	}
	if len(problems) > 0 {
		return input.Invalid("escalation", strings.Join(problems, "; "))
	}
	for i := range c.Policies {
		sort.SliceStable(c.Policies[i].Thresholds, func(a, b int) bool { return c.Policies[i].Thresholds[a].At < c.Policies[i].Thresholds[b].At })
	}
	return nil
}

func (p Policy) problems() []string {
	var out []string
	if len(p.Thresholds) == 0 {
		out = append(out, "has no thresholds; give at least one")
	}
	if len(p.Thresholds) > MaxThresholds {
		out = append(out, fmt.Sprintf("%d thresholds; at most %d are accepted", len(p.Thresholds), MaxThresholds))
	}
	at := map[int]bool{}
	for _, t := range p.Thresholds {
		if err := t.Check(); err != nil {
			out = append(out, err.(*input.InvalidError).Problem)
			continue
		}
		if at[t.At] {
			out = append(out, fmt.Sprintf("two thresholds at %d points; each level may have one action", t.At))
		}
		at[t.At] = true
	}
	return out
}

// Check checks one threshold on its own.
func (t Threshold) Check() error {
	if t.At < 1 || t.At > MaxPoints {
		return input.Invalid("threshold", fmt.Sprintf("%d points is out of range; a threshold is 1 to %d points", t.At, MaxPoints))
	}
	if _, err := ParseAction(string(t.Action)); err != nil {
		return err
	}
	b, required := t.Action.Bounds()
	switch {
	case b.Max == 0 && t.Duration != 0:
		return input.Invalid("duration", fmt.Sprintf("at %d points: a %s takes no duration; only timeout, tempban and jail do", t.At, t.Action))
	case required && t.Duration == 0:
		return input.Invalid("duration", fmt.Sprintf("at %d points: a %s needs a duration from %s to %s", t.At, t.Action, duration.Format(b.Min), duration.Format(b.Max)))
	case t.Duration != 0 && (t.Duration < b.Min || t.Duration > b.Max):
		return input.Invalid("duration", fmt.Sprintf("at %d points: %s is out of bounds for a %s; accepted: %s to %s", t.At, duration.Format(t.Duration), t.Action, duration.Format(b.Min), duration.Format(b.Max)))
	}
	if t.ResetBelow != 0 && (t.ResetBelow < 1 || t.ResetBelow > t.At) {
		return input.Invalid("reset", fmt.Sprintf("at %d points: reset below %d is out of range; accepted: 1 to %d (the threshold itself)", t.At, t.ResetBelow, t.At))
	}
	return nil
}

// CheckName checks a policy name: 1 to 32 characters of a-z, 0-9, - and _.
func CheckName(name string) error {
	ok := name != "" && len(name) <= MaxNameLength
	for _, r := range name {
		ok = ok && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
	}
	if !ok {
		return input.Invalid("policy", fmt.Sprintf("%q is not a policy name; accepted: 1 to %d characters of a-z, 0-9, - and _", name, MaxNameLength))
	}
	return nil
}

func checkCountsFor(d time.Duration) error {
	if d < MinCountsFor || d > MaxCountsFor {
		return fmt.Errorf("%s is out of bounds; points count from %s to %s", duration.Format(d), duration.Format(MinCountsFor), duration.Format(MaxCountsFor))
	}
	return nil
}

func typeNames() string {
	var names []string
	for _, t := range cases.Types() {
		names = append(names, strings.ToLower(string(t)))
	}
	return strings.Join(names, ", ")
}

// harsher reports whether threshold a is a harsher action than b: the action's severity,
// then the longer duration (a jail without end is the longest), then the higher level.
func harsher(a, b Threshold) bool {
	if a.Action.severity() != b.Action.severity() {
		return a.Action.severity() > b.Action.severity()
	}
	da, db := a.Duration, b.Duration
	if a.Action == Jail {
		if da == 0 {
			da = duration.Max
		}
		if db == 0 {
			db = duration.Max
		}
	}
	if da != db {
		return da > db
	}
	return a.At > b.At
}

// clone is a deep copy of c (through its JSON form, which is how it is stored).
func (c Config) clone() Config {
	b, _ := json.Marshal(c)
	var out Config
	_ = json.Unmarshal(b, &out)
	return out
}

// equalJSON says a and b have the same JSON form: settings, or parts of them, are equal when
// they would be stored the same.
func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
