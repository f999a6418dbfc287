package automod

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/duration"
)

// FieldChange is one field of a rule that differs, in words: for lists, what was added and
// removed; for the rest, the old and the new value.
type FieldChange struct {
	Field string
	Old   string
	New   string
	// Added and Removed are set for list fields (keywords, regexes, allow list, exemptions).
	Added   []string
	Removed []string
}

func (c FieldChange) String() string {
	if c.Added != nil || c.Removed != nil {
		var parts []string
		if len(c.Added) > 0 {
			parts = append(parts, "added "+listed(c.Added))
		}
		if len(c.Removed) > 0 {
			parts = append(parts, "removed "+listed(c.Removed))
		}
		return c.Field + ": " + strings.Join(parts, "; ")
	}
	return fmt.Sprintf("%s: %s → %s", c.Field, c.Old, c.New)
}

// listed quotes up to ten items and counts the rest.
func listed(items []string) string {
	const shownItems = 10
	var parts []string
	for i, s := range items {
		if i == shownItems {
			parts = append(parts, fmt.Sprintf("and %d more", len(items)-shownItems))
			break
		}
		parts = append(parts, strconv.Quote(s))
	}
	return strings.Join(parts, ", ")
}

// listChange compares two lists as sets, keeping each side's order.
func listChange(field string, old, new []string) (FieldChange, bool) {
	c := FieldChange{Field: field, Added: []string{}, Removed: []string{}}
	for _, s := range new {
		if !slices.Contains(old, s) {
			c.Added = append(c.Added, s)
		}
	}
	for _, s := range old {
		if !slices.Contains(new, s) {
			c.Removed = append(c.Removed, s)
		}
	}
	return c, len(c.Added)+len(c.Removed) > 0
}

func idTexts(ids []int64) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = strconv.FormatInt(id, 10)
	}
	return out
}

// DescribeActions writes a rule's actions in words.
func DescribeActions(actions []Action) string {
	if len(actions) == 0 {
		return "none"
	}
	parts := make([]string, len(actions))
	for i, a := range actions {
		switch a.Type {
		case ActionBlockMessage:
			parts[i] = "block"
			if a.CustomMessage != "" {
				parts[i] += fmt.Sprintf(" (message %q)", a.CustomMessage)
			}
		case ActionSendAlertMessage:
			parts[i] = fmt.Sprintf("alert in <#%d>", a.ChannelID)
		case ActionTimeout:
			parts[i] = "timeout " + duration.Format(time.Duration(a.DurationSeconds)*time.Second)
		case ActionBlockMemberInteraction:
			parts[i] = "block interaction"
		default:
			parts[i] = a.Type.String()
		}
	}
	return strings.Join(parts, ", ")
}

// DescribeGavelActions writes a gavel-enforced rule's actions in words.
func DescribeGavelActions(actions []GavelAction) string {
	if len(actions) == 0 {
		return "none"
	}
	parts := make([]string, len(actions))
	for i, a := range actions {
		switch a.Type {
		case GavelAlert:
			parts[i] = fmt.Sprintf("alert in <#%d>", a.ChannelID)
		case GavelTimeout:
			parts[i] = "timeout " + duration.Format(a.Duration)
		default:
			parts[i] = string(a.Type)
		}
	}
	return strings.Join(parts, ", ")
}

// Diff lists the fields that differ between two versions of a Discord rule.
func Diff(old, new Rule) []FieldChange {
	var out []FieldChange
	scalar := func(field, o, n string) {
		if o != n {
			out = append(out, FieldChange{Field: field, Old: o, New: n})
		}
	}
	list := func(field string, o, n []string) {
		if c, ok := listChange(field, o, n); ok {
			out = append(out, c)
		}
	}
	scalar("name", strconv.Quote(old.Name), strconv.Quote(new.Name))
	scalar("trigger", TriggerName(old.TriggerType), TriggerName(new.TriggerType))
	scalar("enabled", strconv.FormatBool(old.Enabled), strconv.FormatBool(new.Enabled))
	om, nm := old.TriggerMetadata, new.TriggerMetadata
	list("keywords", om.KeywordFilter, nm.KeywordFilter)
	list("regex", om.RegexPatterns, nm.RegexPatterns)
	list("allow", om.AllowList, nm.AllowList)
	scalar("presets", om.Presets.String(), nm.Presets.String())
	scalar("mention_limit", strconv.Itoa(om.MentionTotalLimit), strconv.Itoa(nm.MentionTotalLimit))
	scalar("mention_raid_protection", strconv.FormatBool(om.MentionRaidProtectionEnabled), strconv.FormatBool(nm.MentionRaidProtectionEnabled))
	scalar("actions", DescribeActions(old.Actions), DescribeActions(new.Actions))
	list("exempt_roles", idTexts(discord.Int64s(old.ExemptRoles)), idTexts(discord.Int64s(new.ExemptRoles)))
	list("exempt_channels", idTexts(discord.Int64s(old.ExemptChannels)), idTexts(discord.Int64s(new.ExemptChannels)))
	return out
}

// DiffGavel lists the fields that differ between two versions of a gavel-enforced rule.
func DiffGavel(old, new GavelRule) []FieldChange {
	out := Diff(old.EngineRule(0), new.EngineRule(0))
	if o, n := DescribeGavelActions(old.Actions), DescribeGavelActions(new.Actions); o != n {
		out = append(out, FieldChange{Field: "actions", Old: o, New: n})
	}
	if o, n := pointsText(old.Points), pointsText(new.Points); o != n {
		out = append(out, FieldChange{Field: "points", Old: o, New: n})
	}
	return out
}

// ChangeKind says what a plan does to one rule.
type ChangeKind string

// What a plan does to a rule.
const (
	Create    ChangeKind = "create"
	Update    ChangeKind = "update"
	Delete    ChangeKind = "delete"
	Unchanged ChangeKind = "unchanged"
)

// RuleChange is one rule in a plan.
type RuleChange struct {
	Kind ChangeKind
	// Gavel is true for a gavel-enforced rule (stored by gavel, never sent to Discord).
	Gavel bool
	Name  string
	// Current and Desired are the rule now and after the plan (Discord rules); for a
	// gavel-enforced rule, CurrentGavel and DesiredGavel.
	Current, Desired           Rule
	CurrentGavel, DesiredGavel GavelRule
	Fields                     []FieldChange
}

func (c RuleChange) String() string {
	where := "discord"
	if c.Gavel {
		where = "gavel"
	}
	head := fmt.Sprintf("%s %s rule %q", c.Kind, where, c.Name)
	if !c.Gavel && c.Current.ID != 0 {
		head += fmt.Sprintf(" (id %d)", c.Current.ID)
	}
	var b strings.Builder
	b.WriteString(head)
	for _, f := range c.Fields {
		b.WriteString("\n    " + f.String())
	}
	return b.String()
}

// Plan is what applying a rules file would change, deletions first (so that a guild at
// Discord's per-trigger maximum can replace a rule), then updates, then creations.
type Plan struct {
	Changes []RuleChange
}

// Empty reports whether the plan changes nothing.
func (p Plan) Empty() bool {
	for _, c := range p.Changes {
		if c.Kind != Unchanged {
			return false
		}
	}
	return true
}

func (p Plan) String() string {
	var b strings.Builder
	counts := map[ChangeKind]int{}
	for _, c := range p.Changes {
		counts[c.Kind]++
		if c.Kind == Unchanged {
			continue
		}
		b.WriteString(c.String())
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "%d to create, %d to update, %d to delete, %d unchanged\n", counts[Create], counts[Update], counts[Delete], counts[Unchanged])
	return b.String()
}

// MakePlan compares a rules file with what the guild has: current are Discord's rules,
// currentGavel the gavel-enforced rules gavel stores. Discord's rules are matched by id when
// the file gives one, otherwise by name; a name that several of Discord's rules share must
// be given with its id. Every desired Discord rule is validated against the guild as it will
// be after the plan (per-trigger maxima, trigger types that cannot change); every problem is
// reported, and the error is returned before anything is sent.
func MakePlan(file RuleFile, current []Rule, currentGavel []GavelRule) (Plan, error) {
	var plan Plan
	var problems []string
	matched := map[int64]bool{}
	byName := map[string][]Rule{}
	byID := map[int64]Rule{}
	for _, r := range current {
		byName[r.Name] = append(byName[r.Name], r)
		byID[r.ID] = r
	}
	type pair struct {
		cur     Rule
		found   bool
		desired Rule
	}
	var pairs []pair
	for _, d := range file.Discord {
		p := pair{desired: d}
		if d.ID != 0 {
			p.cur, p.found = byID[d.ID]
			if !p.found {
				problems = append(problems, fmt.Sprintf("rule %q: id %d is not one of the guild's AutoMod rules; accepted: the id of an existing rule, or no id to create one", d.Name, d.ID))
				continue
			}
		} else if same := byName[d.Name]; len(same) > 1 {
			problems = append(problems, fmt.Sprintf("rule %q: %d of Discord's rules have this name (ids %s); accepted: give the rule's id in the file", d.Name, len(same), strings.Join(idTexts(ruleIDs(same)), ", ")))
			continue
		} else if len(same) == 1 {
			p.cur, p.found = same[0], true
		}
		if p.found {
			if matched[p.cur.ID] {
				problems = append(problems, fmt.Sprintf("rule %q: Discord's rule %d is matched by two rules of the file; accepted: each rule once", d.Name, p.cur.ID))
				continue
			}
			matched[p.cur.ID] = true
			p.desired.ID, p.desired.GuildID, p.desired.CreatorID = p.cur.ID, p.cur.GuildID, p.cur.CreatorID
		}
		pairs = append(pairs, p)
	}
	// The guild after the plan, for the per-guild maxima.
	var after []Rule
	for _, p := range pairs {
		after = append(after, p.desired)
	}
	for i, p := range pairs {
		others := slices.Clone(after[:i])
		others = append(others, after[i+1:]...)
		if p.found {
			others = append(others, p.cur) // same id: checked for the trigger type, not counted
		}
		if err := Validate(p.desired, others); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if len(problems) > 0 {
		return Plan{}, &fileError{msg: "plan: " + strings.Join(problems, "\n")}
	}
	for _, r := range current {
		if !matched[r.ID] {
			plan.Changes = append(plan.Changes, RuleChange{Kind: Delete, Name: r.Name, Current: r})
		}
	}
	gavelCur := map[string]GavelRule{}
	for _, g := range currentGavel {
		gavelCur[g.Name] = g
	}
	wanted := map[string]bool{}
	for _, g := range file.Gavel {
		wanted[g.Name] = true
	}
	for _, g := range currentGavel {
		if !wanted[g.Name] {
			plan.Changes = append(plan.Changes, RuleChange{Kind: Delete, Gavel: true, Name: g.Name, CurrentGavel: g})
		}
	}
	var creates []RuleChange
	for _, p := range pairs {
		if !p.found {
			creates = append(creates, RuleChange{Kind: Create, Name: p.desired.Name, Desired: p.desired})
			continue
		}
		fields := Diff(p.cur, p.desired)
		kind := Update
		if len(fields) == 0 {
			kind = Unchanged
		}
		plan.Changes = append(plan.Changes, RuleChange{Kind: kind, Name: p.desired.Name, Current: p.cur, Desired: p.desired, Fields: fields})
	}
	for _, g := range file.Gavel {
		cur, ok := gavelCur[g.Name]
		if !ok {
			creates = append(creates, RuleChange{Kind: Create, Gavel: true, Name: g.Name, DesiredGavel: g})
			continue
		}
		fields := DiffGavel(cur, g)
		kind := Update
		if len(fields) == 0 {
			kind = Unchanged
		}
		plan.Changes = append(plan.Changes, RuleChange{Kind: kind, Gavel: true, Name: g.Name, CurrentGavel: cur, DesiredGavel: g, Fields: fields})
	}
	plan.Changes = append(plan.Changes, creates...)
	return plan, nil
}

func ruleIDs(rs []Rule) []int64 {
	out := make([]int64, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

// pointsText is a gavel rule's escalation points in a plan ("" for the guild's weights).
func pointsText(p *int) string {
	if p == nil {
		return ""
	}
	return strconv.Itoa(*p)
}
