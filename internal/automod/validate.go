package automod

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/gavelbot/gavel/internal/discord"
	"github.com/gavelbot/gavel/internal/input"
)

// ErrInvalid is matched (with errors.Is) by every *ValidationError.
var ErrInvalid = errors.New("invalid automod rule")

// Problem is one thing wrong with a rule: the field, in Discord's JSON names
// ("trigger_metadata.keyword_filter[3]"), and what is wrong with it and what is accepted.
type Problem struct {
	Field   string
	Message string
}

func (p Problem) String() string { return p.Field + ": " + p.Message }

// ValidationError lists every problem found in one rule. Nothing has been sent to Discord
// when it is returned.
type ValidationError struct {
	Rule     string // the rule's name, or its id when it has no name
	Problems []Problem
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "automod rule %s: ", e.Rule)
	if len(e.Problems) > 1 {
		fmt.Fprintf(&b, "%d problems: ", len(e.Problems))
	}
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// Is makes errors.Is(err, ErrInvalid) and errors.Is(err, input.ErrInvalid) true: a rule is
// invalid input like any other.
func (e *ValidationError) Is(target error) bool {
	return target == ErrInvalid || target == input.ErrInvalid
}

type problems struct{ list []Problem }

func (ps *problems) add(field, format string, args ...any) {
	ps.list = append(ps.list, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (ps *problems) err(r Rule) error {
	if len(ps.list) == 0 {
		return nil
	}
	return &ValidationError{Rule: ruleLabel(r), Problems: ps.list}
}

func ruleLabel(r Rule) string {
	if r.Name != "" {
		return fmt.Sprintf("%q", r.Name)
	}
	if r.ID != 0 {
		return fmt.Sprintf("%d", r.ID)
	}
	return "(unnamed)"
}

// shown quotes a value for a message, cut to a readable length.
func shown(s string) string {
	const limit = 40
	if utf8.RuneCountInString(s) > limit {
		s = string([]rune(s)[:limit]) + "…"
	}
	return fmt.Sprintf("%q", s)
}

// chars counts characters the way Discord's limits do: Unicode code points.
func chars(s string) int { return utf8.RuneCountInString(s) }

const triggerChoices = "1 (KEYWORD), 3 (SPAM), 4 (KEYWORD_PRESET), 5 (MENTION_SPAM), 6 (MEMBER_PROFILE)"

// Validate checks a rule against every limit Discord documents, before anything is sent.
// existing is the guild's other rules, as Discord has them (rules of other guilds and the
// rule itself, matched by id, are not counted); it is used for the per-guild maximum of each
// trigger type and to keep a rule's trigger type unchanged. Every problem is reported, not
// only the first; the error is a *ValidationError.
func Validate(r Rule, existing []Rule) error {
	var ps problems
	checkIdentity(&ps, r)
	checkTriggerAndEvent(&ps, r, existing)
	checkMetadata(&ps, r.TriggerType, r.TriggerMetadata)
	checkActions(&ps, r.TriggerType, r.Actions)
	checkIDList(&ps, "exempt_roles", "role", discord.Int64s(r.ExemptRoles), MaxExemptRoles)
	checkIDList(&ps, "exempt_channels", "channel", discord.Int64s(r.ExemptChannels), MaxExemptChannels)
	return ps.err(r)
}

func checkIdentity(ps *problems, r Rule) {
	for _, f := range []struct {
		name string
		id   int64
	}{{"id", r.ID}, {"guild_id", int64(r.GuildID)}, {"creator_id", int64(r.CreatorID)}} {
		if f.id < 0 {
			ps.add(f.name, "%d is not a Discord id; accepted: a positive id, or none for a rule not created yet", f.id)
		}
	}
	switch n := chars(r.Name); {
	case n == 0:
		ps.add("name", "is empty; accepted: 1 to %d characters", MaxNameLength)
	case n > MaxNameLength:
		ps.add("name", "is %d characters long; accepted: 1 to %d characters", n, MaxNameLength)
	}
}

func checkTriggerAndEvent(ps *problems, r Rule, existing []Rule) {
	if !r.TriggerType.Valid() {
		ps.add("trigger_type", "%d is not a trigger type; accepted: %s", int(r.TriggerType), triggerChoices)
	}
	switch r.EventType {
	case EventMessageSend, EventMemberUpdate:
		// Member-profile rules look at profiles, every other trigger at messages.
		if r.TriggerType.Valid() && (r.TriggerType == TriggerMemberProfile) != (r.EventType == EventMemberUpdate) {
			want := EventMessageSend
			if r.TriggerType == TriggerMemberProfile {
				want = EventMemberUpdate
			}
			ps.add("event_type", "%d (%s) does not fit a %s rule; accepted: %d (%s)", int(r.EventType), r.EventType, r.TriggerType, int(want), want)
		}
	default:
		ps.add("event_type", "%d is not an event type; accepted: 1 (MESSAGE_SEND), 2 (MEMBER_UPDATE, for MEMBER_PROFILE rules)", int(r.EventType))
	}
	if !r.TriggerType.Valid() {
		return
	}
	same := 0
	for _, e := range existing {
		if e.GuildID != 0 && r.GuildID != 0 && e.GuildID != r.GuildID {
			continue
		}
		if r.ID != 0 && e.ID == r.ID {
			if e.TriggerType != r.TriggerType {
				ps.add("trigger_type", "cannot change from %s to %s: Discord keeps a rule's trigger type; accepted: %d (%s), or delete the rule and create a new one", e.TriggerType, r.TriggerType, int(e.TriggerType), e.TriggerType)
			}
			continue
		}
		if e.TriggerType == r.TriggerType {
			same++
		}
	}
	if limit, _ := MaxRulesPerGuild(r.TriggerType); same >= limit {
		ps.add("trigger_type", "the guild already has %s; accepted: at most %d per guild", plural(same, fmt.Sprintf("%s rule", r.TriggerType)), limit)
	}
}

func checkMetadata(ps *problems, t TriggerType, m TriggerMetadata) {
	const f = "trigger_metadata."
	if !t.Valid() {
		return // the trigger type is reported already; which fields fit it cannot be said
	}
	unused := func(field string) {
		ps.add(f+field, "is not used by %s rules; accepted: leave it out (it is used by %s)", t, fieldUsers[field])
	}
	if t.usesKeywords() {
		checkStrings(ps, f+"keyword_filter", m.KeywordFilter, MaxKeywords, MaxKeywordLength, true)
		if len(m.RegexPatterns) > MaxRegexPatterns {
			ps.add(f+"regex_patterns", "has %d patterns; accepted: at most %d", len(m.RegexPatterns), MaxRegexPatterns)
		}
		for i, p := range m.RegexPatterns {
			field := fmt.Sprintf("%sregex_patterns[%d]", f, i)
			if n := chars(p); n == 0 || n > MaxRegexLength {
				ps.add(field, "is %d characters long; accepted: 1 to %d characters", n, MaxRegexLength)
				continue
			}
			if _, err := CompileRegex(p); err != nil {
				var re *RegexError
				if errors.As(err, &re) {
					ps.add(field, "%s at offset %d: %s (pattern %s)", re.Construct, re.Offset, re.Reason, shown(p))
				} else {
					ps.add(field, "%v", err)
				}
			}
		}
	} else {
		if len(m.KeywordFilter) > 0 {
			unused("keyword_filter")
		}
		if len(m.RegexPatterns) > 0 {
			unused("regex_patterns")
		}
	}
	switch {
	case t == TriggerKeywordPreset:
		checkStrings(ps, f+"allow_list", m.AllowList, MaxAllowListPreset, MaxAllowListLength, true)
	case t.usesAllowList():
		checkStrings(ps, f+"allow_list", m.AllowList, MaxAllowList, MaxAllowListLength, true)
	case len(m.AllowList) > 0:
		unused("allow_list")
	}
	if t == TriggerKeywordPreset {
		for _, p := range m.Presets.Values() {
			if !p.Valid() {
				ps.add(f+"presets", "%d is not a keyword preset; accepted: %s", int(p), presetChoices)
			}
		}
	} else if m.Presets != 0 {
		unused("presets")
	}
	if t == TriggerMentionSpam {
		if m.MentionTotalLimit < 0 || m.MentionTotalLimit > MaxMentionTotalLimit {
			ps.add(f+"mention_total_limit", "%d is out of range; accepted: 0 to %d unique user and role mentions", m.MentionTotalLimit, MaxMentionTotalLimit)
		}
	} else {
		if m.MentionTotalLimit != 0 {
			unused("mention_total_limit")
		}
		if m.MentionRaidProtectionEnabled {
			unused("mention_raid_protection_enabled")
		}
	}
}

var fieldUsers = map[string]string{
	"keyword_filter":                  "KEYWORD and MEMBER_PROFILE rules",
	"regex_patterns":                  "KEYWORD and MEMBER_PROFILE rules",
	"allow_list":                      "KEYWORD, KEYWORD_PRESET and MEMBER_PROFILE rules",
	"presets":                         "KEYWORD_PRESET rules",
	"mention_total_limit":             "MENTION_SPAM rules",
	"mention_raid_protection_enabled": "MENTION_SPAM rules",
}

// checkStrings checks a keyword_filter or allow_list: how many entries, how long each is,
// and (for keywords) that something is left once the wildcards are taken off.
func checkStrings(ps *problems, field string, items []string, maxItems, maxLen int, keywords bool) {
	if len(items) > maxItems {
		ps.add(field, "has %d entries; accepted: at most %d", len(items), maxItems)
	}
	for i, s := range items {
		f := fmt.Sprintf("%s[%d]", field, i)
		if n := chars(s); n == 0 || n > maxLen {
			ps.add(f, "%s is %d characters long; accepted: 1 to %d characters", shown(s), n, maxLen)
			continue
		}
		if keywords && parseKeyword(s).core == "" {
			ps.add(f, "%s is only wildcards; accepted: a word or phrase, with * at its start or end", shown(s))
		}
	}
}

func checkActions(ps *problems, t TriggerType, actions []Action) {
	switch n := len(actions); {
	case n == 0:
		ps.add("actions", "is empty; accepted: 1 to %d actions", MaxActions)
	case n > MaxActions:
		ps.add("actions", "has %d actions; accepted: 1 to %d", n, MaxActions)
	}
	for i, a := range actions {
		f := fmt.Sprintf("actions[%d]", i)
		md := f + ".metadata."
		notUsed := func(field string) {
			ps.add(md+field, "is not used by %s actions; accepted: leave it out", a.Type)
		}
		switch a.Type {
		case ActionBlockMessage:
			if n := chars(a.CustomMessage); n > MaxCustomMessageLength {
				ps.add(md+"custom_message", "is %d characters long; accepted: at most %d characters", n, MaxCustomMessageLength)
			}
		case ActionSendAlertMessage:
			if a.ChannelID <= 0 {
				ps.add(md+"channel_id", "is missing; accepted: the id of an existing channel of the guild")
			}
		case ActionTimeout:
			if t.Valid() && t != TriggerKeyword && t != TriggerMentionSpam {
				ps.add(f+".type", "TIMEOUT is not available for %s rules; accepted: only on KEYWORD and MENTION_SPAM rules", t)
			}
			if a.DurationSeconds < 1 || a.DurationSeconds > MaxTimeoutSeconds {
				ps.add(md+"duration_seconds", "%d is out of range; accepted: 1 to %d seconds (4 weeks)", a.DurationSeconds, MaxTimeoutSeconds)
			}
		case ActionBlockMemberInteraction:
			if t.Valid() && t != TriggerMemberProfile {
				ps.add(f+".type", "BLOCK_MEMBER_INTERACTION is not available for %s rules; accepted: only on MEMBER_PROFILE rules", t)
			}
		default:
			ps.add(f+".type", "%d is not an action type; accepted: 1 (BLOCK_MESSAGE), 2 (SEND_ALERT_MESSAGE), 3 (TIMEOUT), 4 (BLOCK_MEMBER_INTERACTION)", int(a.Type))
			continue
		}
		if a.CustomMessage != "" && a.Type != ActionBlockMessage {
			notUsed("custom_message")
		}
		if a.ChannelID != 0 && a.Type != ActionSendAlertMessage {
			notUsed("channel_id")
		}
		if a.DurationSeconds != 0 && a.Type != ActionTimeout {
			notUsed("duration_seconds")
		}
	}
}

func checkIDList(ps *problems, field, what string, ids []int64, limit int) {
	if len(ids) > limit {
		ps.add(field, "has %d %ss; accepted: at most %d", len(ids), what, limit)
	}
	seen := make(map[int64]bool, len(ids))
	for i, id := range ids {
		f := fmt.Sprintf("%s[%d]", field, i)
		if id <= 0 {
			ps.add(f, "%d is not a %s id; accepted: a positive Discord id", id, what)
			continue
		}
		if seen[id] {
			ps.add(f, "%d is listed twice; accepted: each %s once", id, what)
		}
		seen[id] = true
	}
}
